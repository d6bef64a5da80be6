from sentimentops.core.cli.main import app

app(prog_name="sentimentops")
