FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 8000
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
# gthread, 2 workers (one per core of a 2-core node) x 16 threads: see docs/scaling.md, "Gunicorn".
CMD ["gunicorn", "-c", "python:healthtrack.gunicorn_conf", "healthtrack.wsgi", "-b", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "16", "--preload"]
