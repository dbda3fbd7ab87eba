"""Photo uploads end to end: time and worker peak memory for 12-megapixel JPEG and HEIC.

Serves the real application with gunicorn (one sync worker, so its memory is one worker's, a
fresh one for each format), uploads each photo N times over HTTP (multipart, as a phone does)
and deletes it after each upload so every run decodes, cleans, encodes and writes three files.
Reports p50/p90/max, the worker's CPU time per upload and its peak resident memory (VmHWM).
With --base REV, the same uploads also go to that git revision of the application (checked out
in var/bench-base), format by format, turn about: what the change costs or saves.

    .venv/bin/python -m benchmarks.photos [--uploads 20] [--base REV]

Uses DATABASE_URL, or starts a private PostGIS under var/bench-pg through scripts/lib.sh.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import ExifTags, Image

from benchmarks import loadgen
from benchmarks.versions import BASE_TREE, check_out
from service import migrate
from service.config import PROJECT_DIR

pillow_heif.register_heif_opener()
WIDTH, HEIGHT = 4032, 3024  # 12.2 megapixels, a phone's 4:3 sensor
CACHE = PROJECT_DIR / "var" / "bench-photos"
RESULTS = PROJECT_DIR / "benchmarks" / "results" / "photos.json"


def database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    cluster = PROJECT_DIR / "var" / "bench-pg"
    script = 'source scripts/lib.sh && ensure_postgis && start_cluster "$1" && cluster_url "$1"'
    done = subprocess.run(
        ["bash", "-c", script, "bench", str(cluster)],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def phone_exif() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "BenchPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "N", 2: (48.0, 51.0, 30.24), 3: "E", 4: (2.0, 17.0, 40.2)})
    return exif.tobytes()


def photo_like(noise: float) -> Image.Image:
    """Gradients, texture and sensor-like noise: compresses like a photo, not like a flat fill."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    pixels = np.stack(
        [x / WIDTH * 180 + 40, y / HEIGHT * 160 + 50, (x + y) / (WIDTH + HEIGHT) * 120 + 60], -1
    )
    pixels += 40 * (np.sin(x / 37.0) * np.cos(y / 53.0))[..., None]
    pixels += rng.normal(0, noise, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def sample(fmt: str) -> Path:
    """The 12 MP sample of a format, made once (HEVC encoding takes a while) and cached."""
    path = CACHE / f"photo-12mp.{fmt.lower()}"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        if fmt == "JPEG":
            photo_like(6).save(path, "JPEG", quality=92, exif=phone_exif())
        else:
            photo_like(2.5).save(
                path, "HEIF", quality=80, exif=phone_exif(), enc_params={"preset": "ultrafast"}
            )
    return path


def serve(env: dict, port: int, directory: Path = PROJECT_DIR) -> subprocess.Popen:
    """The application of DIRECTORY (this checkout, or another version's) under gunicorn."""
    if directory != PROJECT_DIR:  # its modules first
        env = env | {"PYTHONPATH": str(directory)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "wsgi:app",
        ],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if request(port, "GET", "/api/v1/health")[0] == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the application did not start")


def request(port: int, method: str, path: str, body: bytes = b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def worker_of(master: int) -> int:
    return int(Path(f"/proc/{master}/task/{master}/children").read_text().split()[0])


def worker_cpu_ms(worker: int) -> float:
    """CPU time (user + system) the worker has used so far: immune to other processes' load."""
    fields = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def worker_memory_mb(worker: int) -> tuple[float, float]:
    """(current, peak) resident memory of the gunicorn worker, in MB."""
    status = Path(f"/proc/{worker}/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Vm")}
    return int(fields["VmRSS"]) / 1024, int(fields["VmHWM"]) / 1024


def bearer_token(port: int) -> str:
    """Register a throwaway contributor and log in: uploading needs an account."""
    credentials = {"username": f"bench_{uuid.uuid4().hex[:8]}", "password": uuid.uuid4().hex}
    body = json.dumps(credentials).encode()
    json_type = {"Content-Type": "application/json"}
    request(port, "POST", "/api/v1/auth/register", body, json_type)
    status, answer = request(port, "POST", "/api/v1/auth/tokens", body, json_type)
    if status != 201:
        raise SystemExit(f"login failed with {status}: {answer[:300]!r}")
    return json.loads(answer)["token"]


def bench_format(port: int, master: int, fmt: str, uploads: int, token: str) -> dict:
    data = sample(fmt).read_bytes()
    body, boundary = multipart(data, f"IMG_0001.{'jpg' if fmt == 'JPEG' else 'heic'}")
    auth = {"Authorization": f"Bearer {token}"}
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"} | auth
    worker = worker_of(master)
    rss_before, _ = worker_memory_mb(worker)
    timings, cpu = [], []
    for attempt in range(uploads + 2):  # two warm-up uploads, not counted
        cpu_before, started = worker_cpu_ms(worker), time.perf_counter()
        status, answer = request(port, "POST", "/api/v1/photos", body, headers)
        elapsed = time.perf_counter() - started
        cpu_used = worker_cpu_ms(worker) - cpu_before
        if status != 201:
            raise SystemExit(f"upload failed with {status}: {answer[:300]!r}")
        photo = json.loads(answer)
        request(port, "DELETE", f"/api/v1/photos/{photo['id']}", headers=auth)  # write again
        if attempt >= 2:
            timings.append(elapsed * 1000)
            cpu.append(cpu_used)
    rss_after, peak = worker_memory_mb(worker)
    timings.sort()
    return {
        "format": fmt,
        "file_mb": round(len(data) / 1e6, 2),
        "uploads": uploads,
        "p50_ms": round(statistics.median(timings)),
        "p90_ms": round(timings[int(0.9 * (len(timings) - 1))]),
        "max_ms": round(timings[-1]),
        "cpu_p50_ms": round(statistics.median(cpu)),
        "load_average": os.getloadavg()[0],
        "worker_rss_before_mb": round(rss_before),
        "worker_rss_after_mb": round(rss_after),
        "worker_peak_mb": round(peak),
        "suggestion_found": photo["suggested_location"] is not None,
    }


def measure(env: dict, directory: Path, fmt: str, uploads: int, token: str) -> dict:
    """One format's uploads to a fresh worker of the application in DIRECTORY."""
    port = loadgen.free_port()
    server = serve(env, port, directory)
    try:
        return bench_format(port, server.pid, fmt, uploads, token)
    finally:
        server.terminate()
        server.wait(timeout=30)


def throwaway_token(env: dict) -> str:
    """A token got from a server of its own: hashing the password (argon2, 64 MB) in the
    measured worker would weigh in its peak memory more than a photo does."""
    port = loadgen.free_port()
    server = serve(env, port)
    try:
        return bearer_token(port)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--base", help="also measure this git revision, turn about")
    args = parser.parse_args()
    url = database_url()
    migrate.upgrade(url)
    for fmt in ("JPEG", "HEIF"):
        sample(fmt)
    versions = {"this": PROJECT_DIR}
    if args.base:
        versions["base"] = BASE_TREE
        print(f"base: {check_out(args.base)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="vigie-bench-media-") as media:
        env = os.environ | {"DATABASE_URL": url, "MEDIA_ROOT": media, "RATELIMIT_ENABLED": "false"}
        env.pop("S3_BUCKET", None)
        token = throwaway_token(env)
        for fmt in ("JPEG", "HEIF"):
            for version, directory in versions.items():
                measured = measure(env, directory, fmt, args.uploads, token)
                results.append({"version": version} | measured)
                print(json.dumps(results[-1]), flush=True)
    loadgen.save_results(RESULTS, {"cpus": os.cpu_count(), "args": vars(args), "results": results})
    if args.base:
        print(comparison(results))
    print(f"written to {RESULTS.relative_to(PROJECT_DIR)}")


def comparison(results: list[dict]) -> str:
    """A Markdown table: each format's figures for both versions, and base / this."""
    lines = [
        "| 12 MP upload | version | p50 wall | p50 worker CPU | worker peak RSS |",
        "|---|---|---:|---:|---:|",
    ]
    by = {(r["format"], r["version"]): r for r in results}
    for fmt in ("JPEG", "HEIF"):
        base, this = by[fmt, "base"], by[fmt, "this"]
        for version, r in (("base", base), ("this", this)):
            lines.append(
                f"| {fmt} | {version} | {r['p50_ms']} ms | {r['cpu_p50_ms']} ms | "
                f"{r['worker_peak_mb']} MB |"
            )
        lines.append(
            f"| {fmt} | base / this | {base['p50_ms'] / this['p50_ms']:.2f}x | "
            f"{base['cpu_p50_ms'] / this['cpu_p50_ms']:.2f}x | "
            f"this = {this['worker_peak_mb'] / base['worker_peak_mb']:.0%} of base |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
