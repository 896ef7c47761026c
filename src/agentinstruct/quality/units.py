"""Units of measure that `arithmetic_verified` converts between: "75,000 minutes = 1,250 hours".

A fermi answer often restates a result in a larger unit, and the local teacher got that step wrong in
both of its final lines (run s16: "75,000 minutes = 1.25 hours", "5,000 minutes = 0.83 hours"), which the
calculator never saw: a bare quantity is no expression. Here lives the table of unambiguous units, by
dimension, with their size in that dimension's base unit. Units that mean different sizes in different
places (ton, gallon, pound, ounce) and single letters ("m" is also "million" in "$5m") are left out:
a conversion between them is not checked. Time is also read in working units (a day of 8 hours, a week
of 5 days, a year of 250 days): "2,000 hours = 250 days" is a right step of a work estimate.
"""

from __future__ import annotations

from decimal import Decimal

#: dimension -> {unit name as `unit_name` returns it: size in the dimension's base unit}
DIMENSIONS: dict[str, dict[str, Decimal]] = {
    "time": {
        **dict.fromkeys(("second", "sec"), Decimal(1)),
        **dict.fromkeys(("minute", "min"), Decimal(60)),
        **dict.fromkeys(("hour", "hr"), Decimal(3600)),
        "day": Decimal(86400),
        "week": Decimal(604800),
        "month": Decimal(2629800),  # a twelfth of a year of 365.25 days
        **dict.fromkeys(("year", "yr"), Decimal(31557600)),
    },
    "length": {
        **dict.fromkeys(("millimetre", "millimeter", "mm"), Decimal("0.001")),
        **dict.fromkeys(("centimetre", "centimeter", "cm"), Decimal("0.01")),
        **dict.fromkeys(("metre", "meter"), Decimal(1)),
        **dict.fromkeys(("kilometre", "kilometer", "km"), Decimal(1000)),
        "inch": Decimal("0.0254"),
        **dict.fromkeys(("foot", "feet", "ft"), Decimal("0.3048")),
        "yard": Decimal("0.9144"),
        "mile": Decimal("1609.344"),
    },
    "mass": {
        **dict.fromkeys(("milligram", "mg"), Decimal("0.000001")),
        **dict.fromkeys(("gram",), Decimal("0.001")),
        **dict.fromkeys(("kilogram", "kg"), Decimal(1)),
        "tonne": Decimal(1000),
    },
    "volume": {
        **dict.fromkeys(("millilitre", "milliliter", "ml"), Decimal("0.001")),
        **dict.fromkeys(("litre", "liter"), Decimal(1)),
        "m³": Decimal(1000),
    },
    "area": {
        **dict.fromkeys(("m²",), Decimal(1)),
        **dict.fromkeys(("km²",), Decimal(1000000)),
        "hectare": Decimal(10000),
        "acre": Decimal("4046.8564224"),
    },
}
#: the working sizes of time units, in seconds: a day of 8 hours, a week of 5 such days, a year of 250
WORKING_TIME = {
    "day": Decimal(28800),
    "week": Decimal(144000),
    "month": Decimal(600000),
    "year": Decimal(7200000),
}
#: plural and spelling forms that removing a final "s" does not reach
IRREGULAR = {"inche": "inch", "inches": "inch", "feet": "feet", "hrs": "hr", "mins": "min", "secs": "sec"}
SIZES = {unit: (dimension, size) for dimension, units in DIMENSIONS.items() for unit, size in units.items()}


def unit_name(word: str) -> str:
    """A unit word as the table names it: lower case, singular ("Hours" -> "hour", "inches" -> "inch")."""
    word = word.casefold().rstrip(".")
    if word in IRREGULAR:
        return IRREGULAR[word]
    return word if word in SIZES else word.removesuffix("s")


def conversion_factors(from_unit: str, to_unit: str) -> list[Decimal]:
    """How many `to_unit` one `from_unit` is: by calendar and, for time, by working hours too; empty
    unless both are known units of one dimension."""
    source, target = unit_name(from_unit), unit_name(to_unit)
    if source not in SIZES or target not in SIZES or SIZES[source][0] != SIZES[target][0]:
        return []
    factors = [SIZES[source][1] / SIZES[target][1]]
    if SIZES[source][0] == "time":
        working = WORKING_TIME.get(source, SIZES[source][1]) / WORKING_TIME.get(target, SIZES[target][1])
        factors += [working] if working != factors[0] else []
    return factors
