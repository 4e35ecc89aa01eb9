FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 8000
CMD ["gunicorn", "healthtrack.wsgi", "-b", "0.0.0.0:8000", "-w", "4"]
