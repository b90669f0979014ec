# kfsync image: one image for every service (web, workers, beat, flower, migrations, sandbox).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY setup.cfg pyproject.toml README.md celeryconfig.py ./
COPY core ./core
COPY services ./services
COPY kfsync ./kfsync
COPY ingest ./ingest
COPY workers ./workers
COPY mappings ./mappings
COPY connectors ./connectors
COPY store ./store
COPY sandbox ./sandbox
RUN pip install . && useradd --create-home kfsync && mkdir -p /app/var && chown kfsync /app/var
USER kfsync
EXPOSE 8000 5555
CMD ["kfsync", "web", "--host", "0.0.0.0"]
