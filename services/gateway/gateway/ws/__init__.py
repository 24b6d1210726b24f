"""The WebSocket edge: connections, frames, delivery fan-out, resume and presence."""
