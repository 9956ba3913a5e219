"""Service-hour figures by area, Party branch and host."""
