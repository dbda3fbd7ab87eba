"""Load N synthetic devices with a realistic urban distribution, for benchmarks.

Most devices cluster around city centres (a Gaussian per city, densest in Paris so that a
1 km² box at the centre holds more than 10,000 of them); the rest are spread over France.
Deterministic: the same seed gives the same table. Runs entirely inside PostgreSQL.

    python -m benchmarks.seed_devices --count 1000000 [--database-url URL]
"""

import argparse
import os
import time

from sqlalchemy import create_engine, text

# (name, lon, lat, share of all devices, sigma in km)
CITIES = (
    ("Paris", 2.3488, 48.8534, 0.30, 2.0),
    ("Lyon", 4.8357, 45.7640, 0.08, 1.8),
    ("Marseille", 5.3698, 43.2965, 0.08, 2.5),
    ("Nice", 7.2620, 43.7102, 0.06, 1.5),
    ("Toulouse", 1.4442, 43.6047, 0.04, 2.0),
    ("Bordeaux", -0.5792, 44.8378, 0.04, 2.0),
    ("Lille", 3.0573, 50.6292, 0.04, 2.0),
    ("Nantes", -1.5536, 47.2184, 0.03, 2.0),
    ("Strasbourg", 7.7521, 48.5734, 0.03, 1.5),
    ("Montpellier", 3.8767, 43.6108, 0.03, 1.5),
    ("Zürich", 8.5417, 47.3769, 0.02, 1.5),
    ("Genève", 6.1432, 46.2044, 0.02, 1.5),
)
BACKGROUND_BBOX = (-4.8, 42.4, 8.2, 51.0)  # mainland France

SEED_SQL = """
WITH cities(name, lon, lat, share, sigma_km) AS (VALUES {cities}),
cumulative AS (
    SELECT name, lon, lat, sigma_km,
           sum(share) OVER (ORDER BY name) - share AS low, sum(share) OVER (ORDER BY name) AS high
    FROM cities
),
draws AS (
    SELECT i, random() AS pick, random() AS u1, random() AS u2, random() AS u3, random() AS u4
    FROM generate_series(1, :count) AS i
),
placed AS (
    SELECT d.*, c.lon AS clon, c.lat AS clat, c.sigma_km
    FROM draws d LEFT JOIN cumulative c ON d.pick >= c.low AND d.pick < c.high
)
INSERT INTO devices (id, geom, kind, camera_type, direction, angle, height, zone, surveillance,
                     operator_type, status, observed_at, created_at, updated_at, tags)
SELECT
    gen_random_uuid(),
    CASE WHEN clon IS NULL THEN
        ST_SetSRID(ST_MakePoint({minx} + u1 * ({maxx} - {minx}),
                                {miny} + u2 * ({maxy} - {miny})), 4326)
    ELSE
        -- Box-Muller: a Gaussian offset of sigma_km around the city centre.
        ST_SetSRID(ST_MakePoint(
            clon + sigma_km * sqrt(-2 * ln(greatest(u1, 1e-12))) * cos(2 * pi() * u2)
                   / (111.32 * cos(radians(clat))),
            clat + sigma_km * sqrt(-2 * ln(greatest(u1, 1e-12))) * sin(2 * pi() * u2) / 111.32
        ), 4326)
    END,
    (ARRAY['camera','camera','camera','camera','camera','camera','camera','camera','camera',
           'camera','camera','camera','camera','camera','camera','camera','alpr','microphone',
           'sensor','facial_recognition'])[1 + floor(u3 * 20)::int],
    -- A camera type for the kinds that film only (not the microphones and sensors above).
    CASE WHEN floor(u3 * 20)::int NOT IN (17, 18) THEN
        (ARRAY['fixed','fixed','dome','panning', NULL])[1 + floor(u4 * 5)::int]
    END,
    CASE WHEN u4 < 0.7 THEN ARRAY[floor(u3 * 360)::smallint] END,
    CASE WHEN u4 < 0.7 THEN 40 + floor(u2 * 80) END,
    3 + floor(u1 * 6),
    (ARRAY['town','traffic','parking','shop','transit','building'])[1 + floor(u2 * 6)::int],
    (ARRAY['public','outdoor','indoor'])[1 + floor(u4 * 3)::int],
    (ARRAY['public','private','unknown'])[1 + floor(u1 * 3)::int],
    CASE WHEN u3 < 0.05 THEN 'removed' WHEN u3 < 0.08 THEN 'planned' ELSE 'active' END,
    now() - (u2 * interval '1800 days'),
    now() - (u1 * interval '1800 days'),
    now() - (u1 * interval '900 days'),
    '{{}}'::jsonb
FROM placed
"""


def seed(database_url: str, count: int, seed_value: float = 0.42) -> float:
    """Replace every device with COUNT synthetic ones; return the seconds it took."""
    cities = ", ".join(
        f"('{n}', {lon}, {lat}, {share}, {sigma})" for n, lon, lat, share, sigma in CITIES
    )
    minx, miny, maxx, maxy = BACKGROUND_BBOX
    sql = SEED_SQL.format(cities=cities, minx=minx, miny=miny, maxx=maxx, maxy=maxy)
    engine = create_engine(database_url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE devices CASCADE"))
        conn.execute(text("SELECT setseed(:s)"), {"s": seed_value})
        conn.execute(text(sql), {"count": count})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Store neighbours together, as an operator would with a periodic CLUSTER: a bbox
        # then reads a few hundred pages instead of one page per device.
        conn.execute(text("CLUSTER devices USING devices_geom_idx"))
        conn.execute(text("VACUUM ANALYZE devices"))
    engine.dispose()
    return time.perf_counter() - started


def device_count(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM devices")).scalar_one()
    engine.dispose()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    seconds = seed(args.database_url, args.count)
    print(f"loaded {args.count} devices in {seconds:.1f} s")


if __name__ == "__main__":
    main()
