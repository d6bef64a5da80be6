from sentimentops.app.cli.main import app

app(prog_name="sentimentops")
