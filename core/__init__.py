"""kfsync's bottom layer: settings, logs, metrics and errors; imports nothing from the app."""
