# The production image: the same Makefile targets as the README, without the test tools.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# pango (libpango-1.0-0, libpangoft2-1.0-0) for WeasyPrint: PDF commissioner reports; fonts to draw them.
RUN apt-get update && apt-get install -y --no-install-recommends make libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md Makefile manage.py ./
COPY timebank timebank
COPY members members
COPY ledger ledger
COPY exchanges exchanges
COPY reminders reminders
COPY reports reports
COPY audit audit
COPY listings listings
COPY safeguarding safeguarding
COPY interbank interbank
COPY desk desk
COPY privacy privacy
COPY imports imports
COPY templates templates
RUN make install EXTRAS= PYTHON=python3.11 \
 && DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=localhost .venv/bin/python manage.py collectstatic --noinput
RUN useradd --create-home timebank && mkdir -p /app/var/media && chown -R timebank /app/var
USER timebank
EXPOSE 8000
