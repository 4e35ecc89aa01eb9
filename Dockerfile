FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are built into the image: the manifest that `{% static %}` reads (and so the
# 404/500/503 pages) must exist before the first request. Placeholder values only satisfy the
# production settings' checks; nothing connects to anything during collectstatic.
RUN DJANGO_ENV=production SECRET_KEY=collectstatic-only JWT_SIGNING_KEY=collectstatic-only-jwt \
    FERNET_KEYS=collectstatic-only ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://unused@127.0.0.1:1/unused REDIS_URL=redis://127.0.0.1:1/0 \
    python manage.py collectstatic --noinput
EXPOSE 8000
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
# granian (Rust HTTP, WSGI), 4 worker processes of one Python thread (two per core of a 2-core
# node), Django loaded before the fork, JSON logs, a 60 s request timeout (healthtrack/server.py),
# behind a load balancer that buffers requests: see docs/scaling.md, "The HTTP server".
CMD ["python", "-m", "healthtrack.server", "-b", "0.0.0.0:8000", "--workers", "4"]
