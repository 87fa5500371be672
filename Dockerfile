# The openmb image: the operator, the steering switch and every middlebox run from it
# (`openmb operator`, `openmb switch`, `openmb mb ...`).
#
#   docker build -t openmb:dev .
#
# Where there is no Docker (CI, the e2e node), e2e/image/build.sh makes the same image as an
# OCI layout tarball: the same /app (laid out by e2e/image/stage-app.sh), the same user
# (openmb, uid/gid 65532), entrypoint and working directory.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# Dependencies first, so that a change to the sources reuses this layer. --ignore-scripts:
# `prepare` would run tsc before the sources are here.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && bash e2e/image/stage-app.sh /src /stage

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /stage/package.json /stage/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /stage/ ./
# The same paths and user as e2e/image/build.sh's image, so Pod specs work with either:
# /usr/bin/node (the official image has it in /usr/local/bin), uid/gid 65532 (runAsNonRoot
# needs a numeric user). Root owns /app; the user can only read it.
RUN ln -sf /usr/local/bin/node /usr/bin/node \
  && groupadd --gid 65532 openmb \
  && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /app --shell /usr/sbin/nologin openmb
USER 65532:65532
ENTRYPOINT ["/usr/bin/node", "/app/bin/openmb.js"]
