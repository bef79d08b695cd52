"""Geospatial operators: coordinates and GeoJSON shapes (mgeneratejs 0.6).

Coordinates are [longitude, latitude] with 5 decimals, as chance.longitude and
chance.latitude draw them; shapes are GeoJSON objects a 2dsphere index accepts.
"""
from __future__ import annotations

from labkit.generate import sampling
from labkit.generate.options import Options

LIMIT_OPTIONS = ("long_lim", "lat_lim")
GEOMETRY_TYPES = ("Point", "LineString", "Polygon")


def coordinates_sampler(ctx, o: Options):
    long_low, long_high = o.limits("long_lim", (-180, 180), -180, 180)
    lat_low, lat_high = o.limits("lat_lim", (-90, 90), -90, 90)
    longitude = sampling.floats(ctx, long_low, long_high, 5)
    latitude = sampling.floats(ctx, lat_low, lat_high, 5)
    return lambda: [longitude(), latitude()]


def coordinates(ctx, o: Options):
    """{"$coordinates": {"long_lim": [-180, 180], "lat_lim": [-90, 90]}}: [longitude, latitude]."""
    return coordinates_sampler(ctx, o)


def point(ctx, o: Options):
    """A GeoJSON Point."""
    coordinate = coordinates_sampler(ctx, o)
    return lambda: {"type": "Point", "coordinates": coordinate()}


def linestring_sampler(ctx, o: Options):
    locations = range(o.integer("locs", 2, low=2))
    coordinate = coordinates_sampler(ctx, o)
    return lambda: {"type": "LineString", "coordinates": [coordinate() for _ in locations]}


def linestring(ctx, o: Options):
    """A GeoJSON LineString of `locs` locations (default 2)."""
    return linestring_sampler(ctx, o)


def polygon_sampler(ctx, o: Options):
    corners = range(o.integer("corners", 3, low=3))
    coordinate = coordinates_sampler(ctx, o)

    def draw():
        ring = [coordinate() for _ in corners]
        ring.append(list(ring[0]))  # the closing point repeats the first corner
        return {"type": "Polygon", "coordinates": [ring]}

    return draw


def polygon(ctx, o: Options):
    """A GeoJSON Polygon with `corners` corners (default 3), closed."""
    return polygon_sampler(ctx, o)


def geometries(ctx, o: Options):
    """A GeoJSON GeometryCollection of `number` (default 3) shapes of the given `types`."""
    number = range(o.integer("number", 3, low=0))
    types = o.array("types", list(GEOMETRY_TYPES), nonempty=True)
    if not all(kind in GEOMETRY_TYPES for kind in types):
        raise o.fail("types", "a non-empty array of " + ", ".join(f'"{t}"' for t in GEOMETRY_TYPES))
    makers = {
        "Point": lambda: {"type": "Point", "coordinates": coordinate()},
        "LineString": linestring_sampler(ctx, o),
        "Polygon": polygon_sampler(ctx, o),
    }
    coordinate = coordinates_sampler(ctx, o)
    choose = sampling.pick(ctx, [makers[kind] for kind in types])
    return lambda: {"type": "GeometryCollection", "geometries": [choose()() for _ in number]}
