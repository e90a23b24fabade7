#!/usr/bin/env bash
# Build the Keystream image on a machine whose Docker engine cannot pull images.
#
#   1. base image  keystream-base:bookworm  from debootstrap (minbase + python3,
#      python3-venv) off the Debian mirror that the host's apt is configured
#      with, `docker import`ed. Reused when an image of the same recipe exists.
#   2. wheels      every Python dependency, downloaded (or, for sdist-only
#      packages, built) on the host into deploy/.cache/wheels, checked against
#      the tags of the image's Python. Reused while pyproject.toml's
#      dependencies are unchanged.
#   3. image       deploy/Dockerfile built with BASE_IMAGE=the base image and
#      WHEELS_DIR=the wheels, with --network none: nothing is fetched.
#
# Usage: deploy/build-offline.sh [--rebuild-base] [--refresh-wheels] [--no-image]
#
# Environment (all optional):
#   KEYSTREAM_IMAGE          image to build            (keystream:latest)
#   KEYSTREAM_BASE_IMAGE     base image to build/reuse (keystream-base:<suite>)
#   KEYSTREAM_DEBIAN_SUITE   Debian suite              (bookworm: Python 3.11)
#   KEYSTREAM_DEBIAN_MIRROR  mirror URL; default: read from the host's apt sources
#   PYTHON                   host interpreter for pip  (python3; must match the
#                            image's Python major.minor)
#
# Needs: root (debootstrap), docker, debootstrap, tar, and the host Python with pip.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -- "${SCRIPT_DIR}/.." && pwd)"
readonly SCRIPT_DIR REPO_ROOT
readonly CACHE_DIR="${SCRIPT_DIR}/.cache"
readonly DEB_CACHE_DIR="${CACHE_DIR}/debootstrap-debs"
readonly ROOTFS_DIR="${CACHE_DIR}/rootfs"
readonly WHEELS_DIR="${CACHE_DIR}/wheels"
readonly WHEELS_STAMP="${WHEELS_DIR}/.requirements.sha256"

readonly SUITE="${KEYSTREAM_DEBIAN_SUITE:-bookworm}"
readonly IMAGE="${KEYSTREAM_IMAGE:-keystream:latest}"
readonly BASE_IMAGE="${KEYSTREAM_BASE_IMAGE:-keystream-base:${SUITE}}"
readonly PYTHON="${PYTHON:-python3}"
# What goes into the base image. Changing this list changes the recipe hash,
# which makes the next run rebuild the base image instead of reusing it.
readonly BASE_PACKAGES="python3,python3-venv,passwd,ca-certificates"
readonly BASE_RECIPE_VERSION="1"
readonly LOCK_WAIT_S=1800

export DOCKER_BUILDKIT=0 # the classic builder: BuildKit would pull its frontend

rebuild_base=0
refresh_wheels=0
build_image=1
for arg in "$@"; do
    case "${arg}" in
    --rebuild-base) rebuild_base=1 ;;
    --refresh-wheels) refresh_wheels=1 ;;
    --no-image) build_image=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "build-offline: unknown argument: ${arg} (try --help)" >&2
        exit 2
        ;;
    esac
done

T_START=${SECONDS}
step() { printf '\n==> [%4ss] %s\n' "$((SECONDS - T_START))" "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
    printf '\nbuild-offline: ERROR: %s\n' "$*" >&2
    exit 1
}

preflight() {
    step "preflight"
    command -v docker >/dev/null || die "docker is not installed"
    docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (is dockerd running? are you allowed to use it?)"
    command -v tar >/dev/null || die "tar is not installed"
    command -v "${PYTHON}" >/dev/null || die "host Python '${PYTHON}' not found (set PYTHON=...)"
    "${PYTHON}" -m pip --version >/dev/null 2>&1 || die "'${PYTHON} -m pip' does not work"
    [[ -f "${REPO_ROOT}/pyproject.toml" ]] || die "no pyproject.toml in ${REPO_ROOT}"
    mkdir -p "${CACHE_DIR}"
    info "docker engine $(docker version --format '{{.Server.Version}}'), classic builder (DOCKER_BUILDKIT=0)"
    info "host python: $("${PYTHON}" -c 'import sys; print(sys.version.split()[0])')"
}

# Print the URI of the first enabled `deb` source for ${SUITE} found in apt's
# configuration (deb822 *.sources first, then one-line *.list files), and its
# Signed-By keyring on a second line when one is given.
apt_mirror() {
    local f
    local -a sources=() lists=()
    for f in /etc/apt/sources.list.d/*.sources; do [[ -f "${f}" ]] && sources+=("${f}"); done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [[ -f "${f}" ]] && lists+=("${f}"); done
    if ((${#sources[@]} > 0)); then
        awk -v suite="${SUITE}" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") \
                    && tolower(enabled) != "no" && uri != "" && !found) {
                    print uri; if (key != "") print key; found = 1
                }
                types = ""; suites = ""; uri = ""; key = ""; enabled = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            /^Types:/    { sub(/^Types:[ \t]*/, "");  types = $0 }
            /^URIs:/     { sub(/^URIs:[ \t]*/, "");   split($0, u, /[ \t]+/); uri = u[1] }
            /^Suites:/   { sub(/^Suites:[ \t]*/, ""); suites = $0 }
            /^Enabled:/  { sub(/^Enabled:[ \t]*/, ""); enabled = $0 }
            /^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); if ($0 ~ /^\//) key = $0 }
            END { flush() }
        ' "${sources[@]}" | head -n 2 && return 0
    fi
    if ((${#lists[@]} > 0)); then
        awk -v suite="${SUITE}" '
            $1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }
        ' "${lists[@]}"
    fi
}

base_recipe_hash() {
    printf '%s\n' "${BASE_RECIPE_VERSION}" "${SUITE}" "${BASE_PACKAGES}" "$(uname -m)" |
        sha256sum | cut -c1-16
}

build_base() {
    local recipe existing
    recipe="$(base_recipe_hash)"
    step "base image ${BASE_IMAGE} (recipe ${recipe})"
    existing="$(docker image inspect --format '{{ index .Config.Labels "org.keystream.base.recipe" }}' \
        "${BASE_IMAGE}" 2>/dev/null || true)"
    if [[ "${rebuild_base}" == 0 && "${existing}" == "${recipe}" ]]; then
        info "reusing the existing ${BASE_IMAGE} (--rebuild-base to rebuild it)"
        return 0
    fi
    [[ -n "${existing}" ]] && info "existing ${BASE_IMAGE} has recipe '${existing}': rebuilding"

    [[ "$(id -u)" == 0 ]] || die "debootstrap needs root to build ${BASE_IMAGE}"
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

    local mirror keyring="" found
    if [[ -n "${KEYSTREAM_DEBIAN_MIRROR:-}" ]]; then
        mirror="${KEYSTREAM_DEBIAN_MIRROR}"
    else
        found="$(apt_mirror)"
        mirror="$(sed -n 1p <<<"${found}")"
        keyring="$(sed -n 2p <<<"${found}")"
    fi
    [[ -n "${mirror}" ]] || die "no apt source for suite '${SUITE}' in /etc/apt; set KEYSTREAM_DEBIAN_MIRROR"
    info "mirror: ${mirror} (from $([[ -n "${KEYSTREAM_DEBIAN_MIRROR:-}" ]] && echo KEYSTREAM_DEBIAN_MIRROR || echo "the host's apt sources"))"

    local -a args=(--variant=minbase --include="${BASE_PACKAGES}" --cache-dir="${DEB_CACHE_DIR}")
    if [[ -n "${keyring}" && -f "${keyring}" ]]; then
        args+=(--keyring="${keyring}")
        info "keyring: ${keyring}"
    fi

    mkdir -p "${DEB_CACHE_DIR}"
    rm -rf "${ROOTFS_DIR}"
    info "debootstrap ${SUITE} (minbase + ${BASE_PACKAGES}); log: ${CACHE_DIR}/debootstrap.log"
    if ! debootstrap "${args[@]}" "${SUITE}" "${ROOTFS_DIR}" "${mirror}" >"${CACHE_DIR}/debootstrap.log" 2>&1; then
        tail -n 30 "${CACHE_DIR}/debootstrap.log" >&2
        [[ -f "${ROOTFS_DIR}/debootstrap/debootstrap.log" ]] && tail -n 30 "${ROOTFS_DIR}/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (full log: ${CACHE_DIR}/debootstrap.log)"
    fi

    info "trimming the root filesystem"
    # Documentation, manuals, translations and apt's indexes are not needed to
    # run Python; copyright files stay.
    find "${ROOTFS_DIR}/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "${ROOTFS_DIR}/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "${ROOTFS_DIR}"/usr/share/{man,info,lintian,linda} \
        "${ROOTFS_DIR}"/var/lib/apt/lists/* \
        "${ROOTFS_DIR}"/var/cache/apt/*.bin \
        "${ROOTFS_DIR}"/var/cache/apt/archives/*.deb \
        "${ROOTFS_DIR}"/var/cache/debconf/*-old \
        "${ROOTFS_DIR}"/var/log/* \
        "${ROOTFS_DIR}"/tmp/* \
        "${ROOTFS_DIR}"/debootstrap
    find "${ROOTFS_DIR}/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf '{}' +
    find "${ROOTFS_DIR}/usr/lib/python3"* -name '__pycache__' -prune -exec rm -rf '{}' +

    info "docker import -> ${BASE_IMAGE}"
    tar --numeric-owner -C "${ROOTFS_DIR}" -c . |
        docker import \
            --change 'ENV LANG=C.UTF-8' \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change "LABEL org.keystream.base.recipe=${recipe}" \
            --change "LABEL org.keystream.base.suite=${SUITE}" \
            --change 'CMD ["/bin/bash"]' \
            --message "keystream base: debootstrap ${SUITE} minbase + ${BASE_PACKAGES}" \
            - "${BASE_IMAGE}" >/dev/null
    rm -rf "${ROOTFS_DIR}"
    info "built ${BASE_IMAGE}: $(docker image inspect --format '{{.Size}}' "${BASE_IMAGE}" | numfmt --to=iec)"
}

# Facts about the image's Python: "MAJOR.MINOR".
image_python_version() {
    docker run --rm --network none --entrypoint python3 "${BASE_IMAGE}" \
        -c 'import sys; print("%d.%d" % sys.version_info[:2])'
}

requirements() {
    "${PYTHON}" - "${REPO_ROOT}/pyproject.toml" <<'EOF'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)
build = project.get("build-system", {}).get("requires", ["setuptools", "wheel"])
for requirement in [*project["project"]["dependencies"], *build]:
    print(requirement)
EOF
}

fetch_wheels() {
    step "wheels -> ${WHEELS_DIR#"${REPO_ROOT}/"}"
    local host_py image_py reqs digest
    host_py="$("${PYTHON}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    image_py="$(image_python_version)" || die "cannot run python3 in ${BASE_IMAGE}"
    info "host Python ${host_py}, image Python ${image_py}"
    [[ "${host_py}" == "${image_py}" ]] ||
        die "host Python ${host_py} != image Python ${image_py}: wheels would not match; set PYTHON=python${image_py}"

    reqs="$(requirements)"
    digest="$(printf '%s\n%s\n%s\n' "${reqs}" "${image_py}" "$(uname -m)" | sha256sum | cut -c1-64)"
    if [[ "${refresh_wheels}" == 0 && -f "${WHEELS_STAMP}" && "$(cat "${WHEELS_STAMP}")" == "${digest}" ]]; then
        info "reusing $(find "${WHEELS_DIR}" -name '*.whl' | wc -l) wheels (requirements unchanged; --refresh-wheels to refetch)"
    else
        rm -rf "${WHEELS_DIR}"
        mkdir -p "${WHEELS_DIR}"
        printf '%s\n' "${reqs}" >"${WHEELS_DIR}/requirements.txt"
        info "pip wheel: binary wheels are downloaded, sdist-only packages built on the host"
        # pip wheel resolves for the host interpreter, which has the image's
        # version; the tag check below catches any other mismatch.
        "${PYTHON}" -m pip wheel --quiet --disable-pip-version-check --no-cache-dir \
            --wheel-dir "${WHEELS_DIR}" --requirement "${WHEELS_DIR}/requirements.txt" ||
            die "pip wheel failed"
        printf '%s' "${digest}" >"${WHEELS_STAMP}"
        info "$(find "${WHEELS_DIR}" -name '*.whl' | wc -l) wheels, $(du -sh "${WHEELS_DIR}" | cut -f1)"
    fi

    info "checking every wheel's tags against the image's Python"
    # Debian's python3 has no pip module, but python3-venv brings pip's wheel,
    # whose vendored `packaging` knows the interpreter's tags.
    docker run --rm --network none --user 65534:65534 \
        -v "${WHEELS_DIR}:/wheels:ro" --entrypoint sh "${BASE_IMAGE}" -euc '
        PYTHONPATH="$(ls /usr/share/python-wheels/pip-*.whl 2>/dev/null | head -n 1)" python3 -c "
import glob, os, sys
from pip._vendor.packaging.tags import sys_tags
from pip._vendor.packaging.utils import parse_wheel_filename
supported = set(sys_tags())
wheels = sorted(glob.glob(\"/wheels/*.whl\"))
bad = [os.path.basename(w) for w in wheels if not parse_wheel_filename(os.path.basename(w))[3] & supported]
if bad:
    sys.exit(\"wheels not installable by the image Python: \" + \", \".join(bad))
print(\"    all %d wheels match\" % len(wheels))
"
    ' || die "wheel tags do not match ${BASE_IMAGE}'s Python (--refresh-wheels after fixing PYTHON)"
}

build_image() {
    step "image ${IMAGE} (deploy/Dockerfile, offline)"
    local revision
    revision="$(git -C "${REPO_ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    local -a paths=(pyproject.toml README.md cluster node client deploy/Dockerfile deploy/no-wheels
        "${WHEELS_DIR#"${REPO_ROOT}/"}")
    local p
    for p in "${paths[@]}"; do
        [[ -e "${REPO_ROOT}/${p}" ]] || die "missing from the build context: ${p}"
    done
    # The build context is exactly these paths, streamed as a tar: no
    # .dockerignore is needed, and nothing else of the work tree (.git, .venv,
    # caches, data) reaches the daemon.
    info "context: ${paths[*]}"
    tar -C "${REPO_ROOT}" --sort=name --mtime='@0' --owner=0 --group=0 --numeric-owner \
        --exclude='__pycache__' --exclude='*.pyc' --exclude='.requirements.sha256' \
        -c "${paths[@]}" |
        if ! docker build --network none --force-rm --file deploy/Dockerfile \
            --build-arg "BASE_IMAGE=${BASE_IMAGE}" \
            --build-arg "WHEELS_DIR=${WHEELS_DIR#"${REPO_ROOT}/"}" \
            --label "org.opencontainers.image.revision=${revision}" \
            --tag "${IMAGE}" - >"${CACHE_DIR}/docker-build.log" 2>&1; then
            tail -n 40 "${CACHE_DIR}/docker-build.log" >&2
            die "docker build failed (full log: ${CACHE_DIR}/docker-build.log)"
        fi
    grep -e '^Step ' -e '^ ---> Using cache' -e '^Successfully' "${CACHE_DIR}/docker-build.log" |
        sed 's/^/    | /' || true
    docker image inspect "${IMAGE}" >/dev/null 2>&1 || die "docker build did not produce ${IMAGE}"
    docker run --rm --network none "${IMAGE}" --help >/dev/null 2>&1 ||
        info "warning: '${IMAGE} --help' failed (is the keystream CLI implemented yet?)"
    info "built ${IMAGE}: $(docker image inspect --format '{{.Size}}' "${IMAGE}" | numfmt --to=iec)"
}

main() {
    preflight
    exec 9>"${CACHE_DIR}/build.lock"
    flock --wait "${LOCK_WAIT_S}" 9 || die "another build-offline.sh holds ${CACHE_DIR}/build.lock"
    build_base
    fetch_wheels
    if [[ "${build_image}" == 1 ]]; then
        build_image
    fi
    step "done in $((SECONDS - T_START))s"
}

main
