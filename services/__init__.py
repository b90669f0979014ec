"""kfsync's application logic without Celery: the studio, profiles, catalogue, stock I/O; imports
no workers/ or ingest/."""
