"""Upright drawings of the toy dataset's object classes, as lists of primitives in a unit box (y down).

Each class function takes a ``numpy.random.Generator`` (for small shape variations) and returns a list
of parts; a part is ``(kind, params)`` with kind ``poly`` (points), ``ellipse`` (centre, axes, rotation,
start and end angle in degrees, relative thickness: -1 fills), or ``line`` (p1, p2, relative thickness).
"""
import math


def _rect(x0, y0, x1, y1):
    return ("poly", [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def _disc(cx, cy, r, ry=None, start=0, end=360, thickness=-1, angle=0.0):
    return ("ellipse", ((cx, cy), (r, r if ry is None else ry), angle, start, end, thickness))


def _line(x0, y0, x1, y1, width=0.06):
    return ("line", ((x0, y0), (x1, y1), width))


def house(rng):
    roof = rng.uniform(0.05, 0.25)
    door_x = rng.uniform(0.25, 0.6)
    parts = [_rect(0.15, 0.45, 0.85, 1.0), ("poly", [(0.03, 0.47), (0.97, 0.47), (0.5, roof)]),
             _rect(door_x, 0.7, door_x + 0.15, 1.0), _rect(0.62, 0.55, 0.78, 0.7)]
    if rng.random() < 0.5:
        parts.insert(0, _rect(0.68, roof + 0.1, 0.78, 0.4))
    return parts


def tree(rng):
    pine = rng.random() < 0.4
    parts = [_rect(0.43, 0.6, 0.57, 1.0)]
    if pine:
        parts += [("poly", [(0.1, 0.7), (0.9, 0.7), (0.5, 0.3)]), ("poly", [(0.2, 0.45), (0.8, 0.45), (0.5, 0.0)])]
    else:
        parts += [_disc(0.5, 0.35, 0.33, 0.3), _disc(0.3, 0.5, 0.18), _disc(0.7, 0.5, 0.18)]
    return parts


def car(rng):
    top = rng.uniform(0.15, 0.3)
    return [_rect(0.0, 0.45, 1.0, 0.78), ("poly", [(0.18, 0.46), (0.3, top), (0.72, top), (0.85, 0.46)]),
            _rect(0.34, top + 0.05, 0.68, 0.42), _disc(0.24, 0.8, 0.13), _disc(0.76, 0.8, 0.13),
            _disc(0.24, 0.8, 0.05), _disc(0.76, 0.8, 0.05)]


def person(rng):
    arm = rng.uniform(-0.15, 0.2)
    leg = rng.uniform(0.15, 0.3)
    return [_line(0.5, 0.22, 0.5, 0.62, 0.1), _line(0.5, 0.32, 0.22, 0.45 - arm), _line(0.5, 0.32, 0.78, 0.45 - arm),
            _line(0.5, 0.6, 0.5 - leg, 1.0, 0.08), _line(0.5, 0.6, 0.5 + leg, 1.0, 0.08), _disc(0.5, 0.12, 0.11)]


def fish(rng):
    fat = rng.uniform(0.16, 0.26)
    return [("poly", [(0.72, 0.5), (1.0, 0.5 - fat), (1.0, 0.5 + fat)]),
            ("poly", [(0.3, 0.5 - fat + 0.02), (0.55, 0.5 - fat - 0.15), (0.6, 0.5 - fat + 0.05)]),
            _disc(0.42, 0.5, 0.38, fat), _disc(0.2, 0.46, 0.05), ("poly", [(0.45, 0.55), (0.58, 0.58), (0.5, 0.7)])]


def boat(rng):
    sail = rng.uniform(0.8, 0.95)
    return [("poly", [(0.0, 0.7), (1.0, 0.7), (0.85, 0.95), (0.15, 0.95)]), _line(0.45, 0.05, 0.45, 0.7, 0.05),
            ("poly", [(0.48, 0.08), (0.48, 0.64), (sail, 0.64)]), ("poly", [(0.42, 0.15), (0.42, 0.64), (0.12, 0.64)])]


def lamp(rng):
    shade = rng.uniform(0.1, 0.2)
    return [_disc(0.5, 0.95, 0.3, 0.07), _line(0.5, 0.35, 0.5, 0.93, 0.06),
            ("poly", [(0.5 - shade, 0.0), (0.5 + shade, 0.0), (0.85, 0.35), (0.15, 0.35)]), _disc(0.5, 0.4, 0.08)]


def flower(rng):
    n = int(rng.integers(5, 8))
    parts = [_line(0.5, 0.35, 0.5, 1.0, 0.05), _disc(0.35, 0.72, 0.12, 0.05), _disc(0.65, 0.82, 0.12, 0.05)]
    for k in range(n):
        ang = 2 * math.pi * k / n
        parts.append(_disc(0.5 + 0.13 * math.cos(ang), 0.3 + 0.13 * math.sin(ang), 0.13, 0.06, angle=math.degrees(ang)))
    return parts + [_disc(0.5, 0.3, 0.08)]


def rocket(rng):
    fin = rng.uniform(0.1, 0.2)
    return [("poly", [(0.42, 0.85), (0.58, 0.85), (0.5, 1.0)]), _rect(0.35, 0.25, 0.65, 0.85),
            ("poly", [(0.35, 0.25), (0.65, 0.25), (0.5, 0.0)]),
            ("poly", [(0.35, 0.6), (0.35, 0.85), (0.35 - fin, 0.9)]),
            ("poly", [(0.65, 0.6), (0.65, 0.85), (0.65 + fin, 0.9)]), _disc(0.5, 0.42, 0.08)]


def cup(rng):
    taper = rng.uniform(0.0, 0.1)
    return [_disc(0.47, 0.95, 0.42, 0.06), _disc(0.76, 0.55, 0.14, 0.18, thickness=0.06),
            ("poly", [(0.18, 0.25), (0.78, 0.25), (0.7 - taper, 0.93), (0.26 + taper, 0.93)]),
            _line(0.4, 0.0, 0.45, 0.18, 0.03),
            _line(0.55, 0.0, 0.6, 0.18, 0.03)]


def umbrella(rng):
    dome = rng.uniform(0.25, 0.4)
    return [_line(0.5, 0.4, 0.5, 0.9, 0.05), _disc(0.4, 0.9, 0.1, 0.08, 0, 180, thickness=0.05),
            _disc(0.5, 0.42, 0.48, dome, 180, 360), _line(0.5, 0.42 - dome, 0.5, 0.35 - dome, 0.04)]


def mushroom(rng):
    cap = rng.uniform(0.3, 0.45)
    return [_rect(0.38, 0.5, 0.62, 1.0), _disc(0.5, 0.55, 0.48, cap, 180, 360), _disc(0.35, 0.4, 0.06),
            _disc(0.6, 0.32, 0.07), _disc(0.72, 0.46, 0.05)]


CLASSES = [house, tree, car, person, fish, boat, lamp, flower, rocket, cup, umbrella, mushroom]
