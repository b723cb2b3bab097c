# Prism Room Bot: one room per container. `docker build -t prism-room-bot .`
# Runtime dependencies only (no dev extras); the source is built into a wheel in a throwaway stage.

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Only what the package needs: pyproject (metadata), README (its readme) and bot/ (code, generated
# models, registry.json, bundled scenarios). codegen/, spec/, web/ and tests/ are not used at runtime.
COPY pyproject.toml README.md ./
COPY bot/ bot/
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# LOGURU_DIAGNOSE=false: a traceback never prints the values of local variables (a secret held in
# one would reach the log), whatever sink a library adds with loguru's defaults.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOGURU_DIAGNOSE=false
# daily-python and onnxruntime need only glibc, libstdc++ and libgcc, which the slim image has.
# The dependencies come from the lock (exact versions, hashes checked; scripts/lock.sh writes it),
# so every build installs the same packages; the bot's own wheel adds none (--no-deps).
COPY requirements/runtime.lock /tmp/runtime.lock
RUN pip install --no-deps --require-hashes -r /tmp/runtime.lock && rm /tmp/runtime.lock
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin prism
USER prism
WORKDIR /home/prism
# Stdout carries only event envelopes (JSON lines); logs go to stderr. SIGTERM ends the session
# gracefully (session totals, assistant.session.ended with reason "signal"); `docker stop` waits
# 10 s before SIGKILL (docs/deploy.md, "Shutdown", says how long the bot takes).
STOPSIGNAL SIGTERM
# `docker run -t` gives the bot a terminal, which would switch the live view on in place of the
# envelopes; a container's stdout is for envelopes.
ENV BOT_VIEW=off
ENTRYPOINT ["python", "-m", "bot"]
