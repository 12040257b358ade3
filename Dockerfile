# The worker image: `docker build -t faust-orders .`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/orders

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN mkdir app agents models tables web \
    && pip install . \
    && pip uninstall --yes faust-orders \
    && rm -rf app agents models tables web build *.egg-info

COPY app ./app
COPY agents ./agents
COPY models ./models
COPY tables ./tables
COPY web ./web

RUN useradd --create-home --uid 10001 orders \
    && mkdir /data && chown orders /data
USER orders

# Listen on every interface in the container; other workers reach this one at
# WEB_CANONICAL_URL (set it to the container's name, e.g. http://worker-1:6066).
ENV WEB_HOST=0.0.0.0 \
    WEB_PORT=6066 \
    DATA_DIR=/data
VOLUME /data
EXPOSE 6066

CMD ["faust", "-A", "app", "worker", "-l", "info"]
