"""A small stock-keeping module for a single shop: items, quantities and reorder decisions.

Prices are kept in whole cents to avoid floating-point rounding. Persistence and user interfaces are out
of scope; callers hold the `Inventory` dictionary and decide where to store it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

Inventory = dict[str, "Item"]


@dataclass(frozen=True)
class Item:
    """One stocked product, identified by its SKU."""

    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    reorder_level: int = 5

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError(f"quantity of {self.sku} cannot be negative (got {self.quantity})")
        if self.unit_price_cents < 0:
            raise ValueError(f"price of {self.sku} cannot be negative (got {self.unit_price_cents})")


def add_item(inventory: Inventory, item: Item) -> Inventory:
    """Return a new inventory with `item` added; an existing SKU has its quantity increased.

    The name and price of an existing item are kept, so restocking never silently changes a price.
    """
    updated = dict(inventory)
    current = updated.get(item.sku)
    if current is None:
        updated[item.sku] = item
    else:
        updated[item.sku] = replace(current, quantity=current.quantity + item.quantity)
    return updated


def remove_stock(inventory: Inventory, sku: str, amount: int) -> Inventory:
    """Return a new inventory with `amount` units of `sku` taken out.

    Raises KeyError for an unknown SKU and ValueError if there is not enough stock, so a sale can never
    drive a quantity below zero.
    """
    if amount <= 0:
        raise ValueError(f"amount must be positive (got {amount})")
    current = inventory[sku]
    if amount > current.quantity:
        raise ValueError(f"only {current.quantity} of {sku} in stock, cannot remove {amount}")
    updated = dict(inventory)
    updated[sku] = replace(current, quantity=current.quantity - amount)
    return updated


def stock_value_cents(inventory: Inventory) -> int:
    """Total value of all stock at unit price, in cents."""
    return sum(item.quantity * item.unit_price_cents for item in inventory.values())


def items_to_reorder(inventory: Inventory) -> list[Item]:
    """Items at or below their reorder level, the emptiest first, ties broken by SKU."""
    low = [item for item in inventory.values() if item.quantity <= item.reorder_level]
    return sorted(low, key=lambda item: (item.quantity, item.sku))


def reorder_quantity(item: Item, weekly_sales: float, lead_time_weeks: float = 2.0) -> int:
    """How many units to order so stock lasts through the supplier's lead time plus one week.

    The target is the expected sales over `lead_time_weeks + 1` weeks, plus the reorder level as a
    safety margin; what is already on the shelf is subtracted. The result is never negative.
    """
    if weekly_sales < 0 or lead_time_weeks < 0:
        raise ValueError("weekly_sales and lead_time_weeks must not be negative")
    target = weekly_sales * (lead_time_weeks + 1) + item.reorder_level
    return max(0, round(target) - item.quantity)


if __name__ == "__main__":
    shop: Inventory = {}
    shop = add_item(shop, Item("TEA-01", "Green tea, 50 bags", 12, 450))
    shop = add_item(shop, Item("MUG-02", "Stoneware mug", 4, 1200, reorder_level=3))
    shop = remove_stock(shop, "TEA-01", 9)
    print(f"stock value: {stock_value_cents(shop) / 100:.2f}")
    for low_item in items_to_reorder(shop):
        print(low_item.sku, "order", reorder_quantity(low_item, weekly_sales=6))
