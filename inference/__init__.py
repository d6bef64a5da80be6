"""The scoring service: FastAPI routes over ONNX Runtime sessions, micro-batching, WebSocket
streaming, hot model swap and canary split. Torch is never imported here."""
