"""A labelled, seeded, synthetic data set for SKU suggestions (``mappings.suggest``).

``generate(n_products, n_queries, seed)`` builds:

**A KashFlow catalogue** of ``n_products`` products in *product lines*: a brand, a family
(apparel, groceries, household goods) and a variant word (material, attribute or scent), then
every combination of a few colours/scents and sizes/quantities/packs. The lines' siblings
(same item in another size, colour or material) are the hard negatives. Names follow one of
a few templates per brand ("Acme Organic Cotton T-Shirt - Black - M", "Organic Green Tea
500g Acme", ...); codes follow one of five styles per brand (``TSH12-BLK-M``,
``0294578``, ``AC/GTEA/0031/500G``, ``acme_gtea_31_500g``, ``ACM-294578-S``).

**Labelled Magento queries** ``(sku, name, gold product code, kind)``, an equal share of six
kinds (after §B.3 of the mapping-studio reference):

- ``code_norm``: the product code with other case, separators or leading zeros;
- ``code_suffix``: the code with a suffix or prefix ("-2024", "WEB-"), the name with one too;
- ``reordered``: a new, opaque SKU; the name's parts shuffled and the size written another
  way ("0.5kg", "75cl", "Large", "6 pack");
- ``synonym``: a new SKU; one or two words in the **shop's dialect**. Each seed fixes, per
  canonical word, the one alternative this Magento shop uses ("Tee" or "Crew Top" for
  T-Shirt, "Noir" or "Jet" for Black, ...), because a shop names its products consistently.
  Some alternatives are generic retail words the engine knows (tee, hoody, org, choc, gray),
  others are not (noir, jumper, flask): those can only be learned;
- ``typo``: a new SKU; one or two typos (swap, drop, double, substitute) in longer words;
- ``sparse``: a new SKU; the variant word (material, attribute, scent) dropped: truly
  ambiguous when the brand has that item in more than one variant.

**A split for learned aliases.** ``train`` queries stand for suggestions an operator
accepted earlier; ``test`` queries are the ones measured. They are drawn from *disjoint
products*, so a test query can only gain from the aliases through what generalises: the
shop's dialect words (token synonyms ``SkuMatcher`` derives from accepted names), never by
having seen its own answer. ``relisted`` is a separate, small set: products of ``train``
queries listed again under a new SKU with the same name (other case and punctuation), which
is what the *name* alias keys are for. What is learned is exactly
``learn_aliases((q.sku, q.name, q.gold) for q in train)``.

Everything is drawn from one ``random.Random(seed)``: the same arguments give the same set.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field

from mappings.suggest import Product

KINDS = ("code_norm", "code_suffix", "reordered", "synonym", "typo", "sparse")
BRANDS = ("Acme", "Northwind", "Bramble", "Fenwick", "Oakridge", "Little Fox", "Blue Heron",
          "Saltmarsh", "Kestrel", "Marlow", "Thistle", "Wren", "Copperleaf", "Ashgrove",
          "Pebble", "Harbour", "Greenway", "Moorland", "Juniper", "Larkspur", "Hollow Oak",
          "Riverside", "Tidewater", "Foxglove")
COLOURS = {"Black": "BLK", "White": "WHT", "Navy": "NVY", "Grey": "GRY", "Red": "RED",
           "Green": "GRN", "Blue": "BLU", "Pink": "PNK", "Yellow": "YEL", "Olive": "OLV",
           "Burgundy": "BUR", "Cream": "CRM"}
SCENTS = ("Lavender", "Vanilla", "Sandalwood", "Fig", "Cedar", "Lemon", "Rose", "Mint")
APPAREL_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
SIZE_WORDS = {"XS": "Extra Small", "S": "Small", "M": "Medium", "L": "Large",
              "XL": "Extra Large", "XXL": "XX Large"}


@dataclass(frozen=True)
class Family:
    noun: str
    abbr: str
    variants: tuple[str, ...]
    colours: bool  # colour axis (else scents for household, none for groceries)
    sizes: tuple[str, ...]  # "M", "500g", "1l", "6pk" ...


FAMILIES = (
    *(Family(n, a, ("Organic Cotton", "Cotton", "Merino Wool", "Recycled Polyester",
                    "Bamboo", "Linen", "Heavyweight", "Slim Fit"), True, APPAREL_SIZES)
      for n, a in (("T-Shirt", "TSH"), ("Hoodie", "HOD"), ("Sweatshirt", "SWT"),
                   ("Polo Shirt", "POL"), ("Socks", "SCK"), ("Jacket", "JKT"),
                   ("Leggings", "LEG"), ("Shorts", "SHO"))),
    *(Family(n, a, ("Organic", "Fairtrade", "Decaf", "Raw", "Extra Virgin", "Wholegrain",
                    "Gluten Free", "Unsweetened", "Smooth", "Crunchy"), False, sizes)
      for n, a, sizes in (
          ("Green Tea", "GTEA", ("100g", "250g", "500g", "1kg")),
          ("Black Tea", "BTEA", ("100g", "250g", "500g", "1kg")),
          ("Coffee Beans", "COFB", ("250g", "500g", "1kg")),
          ("Ground Coffee", "COFG", ("250g", "500g", "1kg")),
          ("Honey", "HON", ("250g", "500g", "1kg")),
          ("Olive Oil", "OLV", ("250ml", "500ml", "750ml", "1l")),
          ("Granola", "GRA", ("500g", "1kg", "6pk")),
          ("Dark Chocolate", "DCH", ("100g", "250g", "6pk", "12pk")),
          ("Peanut Butter", "PNB", ("250g", "500g", "1kg")),
          ("Oat Milk", "OATM", ("500ml", "1l", "6pk")),
          ("Apple Juice", "APJ", ("250ml", "1l", "12pk")))),
    *(Family(n, a, ("Large", "Travel", "Soy", "Eco", "Classic", "Refill"), colours, sizes)
      for n, a, colours, sizes in (
          ("Scented Candle", "CND", False, ("200g", "400g")),
          ("Enamel Mug", "MUG", True, ("250ml", "350ml")),
          ("Water Bottle", "WBT", True, ("500ml", "750ml", "1l")),
          ("Tote Bag", "TOT", True, ("",)),
          ("Notebook", "NBK", True, ("",)),
          ("Dish Soap", "DSP", False, ("500ml", "1l")),
          ("Hand Cream", "HCR", False, ("50ml", "100ml")))),
)
# canonical word -> what a shop may write instead (the shop's dialect picks one per seed)
SYNONYMS = {
    "T-Shirt": ("Tee", "T Shirt", "Crew Top"), "Hoodie": ("Hoody", "Hooded Top"),
    "Sweatshirt": ("Jumper", "Sweater"), "Polo Shirt": ("Polo", "Polo Top"),
    "Socks": ("Sox",), "Jacket": ("Coat",), "Leggings": ("Tights",),
    "Shorts": ("Short Pants",), "Black": ("Noir", "Jet", "Onyx"),
    "White": ("Snow", "Blanc"), "Navy": ("Dark Blue", "Midnight"), "Grey": ("Gray", "Slate"),
    "Red": ("Scarlet", "Crimson"), "Green": ("Forest", "Bottle Green"),
    "Blue": ("Royal", "Cobalt"), "Pink": ("Blush",), "Organic": ("Org", "Bio"),
    "Organic Cotton": ("Org Cotton", "Organic Cttn"), "Merino Wool": ("Merino",),
    "Recycled Polyester": ("Recycled Poly", "rPET"), "Dark Chocolate": ("Dark Choc",),
    "Extra Virgin": ("EV", "XV"), "Decaf": ("Decaffeinated",), "Fairtrade": ("Fair Trade",),
    "Coffee Beans": ("Whole Bean Coffee",), "Water Bottle": ("Drinks Bottle", "Flask"),
    "Tote Bag": ("Tote", "Shopper"), "Notebook": ("Journal", "Notepad"),
    "Enamel Mug": ("Enamel Cup",), "Dish Soap": ("Washing Up Liquid",),
    "Scented Candle": ("Candle Jar",),
}


@dataclass(frozen=True)
class Query:
    sku: str
    name: str
    gold: str
    kind: str


@dataclass
class DataSet:
    products: list[Product]
    train: list[Query]
    test: list[Query]
    relisted: list[Query]
    dialect: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Item:
    brand: str
    family: Family
    line: int
    variant: str
    colour: str  # colour, scent or ""
    size: str


def generate(n_products: int = 5000, n_queries: int = 600, seed: int = 7,
             n_train: int | None = None) -> DataSet:
    """The catalogue, ``n_queries`` test queries (equal share per kind), ``n_train``
    training queries (default half as many) on other products, and the relisted set."""
    rnd = random.Random(seed)
    items = _catalogue(rnd, n_products)
    products = [_product(rnd, item) for item in items]
    dialect = {word: rnd.choice(alts) for word, alts in SYNONYMS.items()}
    order = list(range(len(items)))
    rnd.shuffle(order)
    n_train = n_queries // 2 if n_train is None else n_train
    test_ids, train_ids = order[:n_queries], order[n_queries:n_queries + n_train]
    make = _QueryMaker(rnd, items, products, dialect)
    test = [make.query(i, KINDS[n % len(KINDS)]) for n, i in enumerate(test_ids)]
    train = [make.query(i, KINDS[n % len(KINDS)]) for n, i in enumerate(train_ids)]
    relisted = [Query(make.new_sku(), _recase(rnd, q.name), q.gold, "relisted")
                for q in train[: max(1, n_train // 5)]]
    return DataSet(products, train, test, relisted, dialect)


def _catalogue(rnd: random.Random, n_products: int) -> list[_Item]:
    items: list[_Item] = []
    lines: set[tuple[str, str, str]] = set()
    for line in itertools.count(1):
        family, brand = rnd.choice(FAMILIES), rnd.choice(BRANDS)
        variant = rnd.choice(family.variants)
        if (brand, family.noun, variant) in lines:
            continue  # one line per brand, family and variant: names stay unique
        lines.add((brand, family.noun, variant))
        if family.colours:
            axis = rnd.sample(sorted(COLOURS), rnd.randint(2, 4))
        elif family.abbr in ("CND", "DSP", "HCR"):
            axis = rnd.sample(SCENTS, rnd.randint(2, 3))
        else:
            axis = [""]
        sizes = family.sizes
        if len(sizes) > 3:
            start = rnd.randint(0, len(sizes) - 3)
            sizes = sizes[start:start + rnd.randint(3, len(sizes) - start)]
        for colour, size in itertools.product(axis, sizes):
            items.append(_Item(brand, family, line, variant, colour, size))
            if len(items) == n_products:
                return items
    raise AssertionError("unreachable")


def _size_text(size: str, style: int) -> str:
    if size in SIZE_WORDS:
        return SIZE_WORDS[size] if style == 1 else size
    if size.endswith("pk"):
        return f"Pack of {size[:-2]}" if style != 2 else f"{size[:-2]} Pack"
    return size


def _product(rnd: random.Random, item: _Item) -> Product:
    style = BRANDS.index(item.brand) % 3
    parts = [item.brand, item.variant, item.family.noun]
    size = _size_text(item.size, style)
    if style == 0:
        name = " ".join(parts) + "".join(f" - {x}" for x in (item.colour, size) if x)
    elif style == 1:
        name = " ".join([*parts[1:], item.colour, size, parts[0]])
    else:
        name = " ".join([parts[0], item.colour, *parts[1:], size])
    return Product(_code(item), " ".join(name.split()), 4000 + 10 * (FAMILIES.index(
        item.family) % 3))


def _code(item: _Item) -> str:
    style = BRANDS.index(item.brand) % 5
    n = _item_number(item)
    colour = COLOURS.get(item.colour, item.colour[:3].upper())
    size = item.size.upper()
    initials = "".join(w[0] for w in item.brand.split()).upper() + item.brand[1].upper()
    if style == 0:
        return "-".join(x for x in (f"{item.family.abbr}{item.line}", colour, size) if x)
    if style == 1:
        return f"{n:07d}"
    if style == 2:
        return "/".join(x for x in (initials, item.family.abbr, f"{item.line:04d}", colour,
                                    size) if x)
    if style == 3:
        slug = item.brand.lower().replace(" ", "")
        return "_".join(x for x in (slug, item.family.abbr.lower(), str(item.line),
                                    colour.lower(), size.lower()) if x)
    return "-".join(x for x in (item.brand[:3].upper(), f"{10000 + n}", size) if x)


def _item_number(item: _Item) -> int:
    colour = sorted([*COLOURS, *SCENTS, ""]).index(item.colour)
    size = sorted({s for f in FAMILIES for s in f.sizes}).index(item.size)
    return item.line * 1000 + colour * 40 + size


def _recase(rnd: random.Random, name: str) -> str:
    name = name.replace(" - ", ", ") if rnd.random() < 0.5 else name.replace(" - ", " ")
    return rnd.choice((name.lower(), name.upper(), name.title(), name))


class _QueryMaker:
    """One Magento listing per call, of a given kind, for one catalogue item."""

    def __init__(self, rnd: random.Random, items: list[_Item], products: list[Product],
                 dialect: dict[str, str]) -> None:
        self.rnd, self.items, self.products, self.dialect = rnd, items, products, dialect
        self.skus: set[str] = set()

    def new_sku(self) -> str:
        while True:  # opaque Magento SKUs, never a KashFlow code style
            sku = self.rnd.choice(("MG", "WEB", "SHOP-")) + str(self.rnd.randint(10**5, 10**6))
            if sku not in self.skus:
                self.skus.add(sku)
                return sku

    def query(self, i: int, kind: str) -> Query:
        item, product = self.items[i], self.products[i]
        sku, name = getattr(self, f"_{kind}")(item, product)
        return Query(sku, " ".join(name.split()), product.code, kind)

    def _code_norm(self, item: _Item, product: Product) -> tuple[str, str]:
        code = product.code
        code = self.rnd.choice((code.lower(), code.upper(), code.swapcase()))
        sep = self.rnd.choice(("-", "_", "", " ", "."))
        code = re.sub(r"[-_/ ]", sep, code)
        if self.rnd.random() < 0.5:  # leading zeros dropped or added
            code = (re.sub(r"(?<!\d)0+(\d)", r"\1", code) if re.search(r"(?<!\d)0\d", code)
                    else re.sub(r"(\d+)", r"00\1", code, count=1))
        return code, _recase(self.rnd, product.name)

    def _code_suffix(self, item: _Item, product: Product) -> tuple[str, str]:
        if self.rnd.random() < 0.7:
            sku = product.code + self.rnd.choice(("-2024", "-NEW", "-V2", "_OLD", "-B"))
        else:
            sku = self.rnd.choice(("WEB-", "MG-", "UK-")) + product.code
        tail = self.rnd.choice((" (2024 edition)", " - New", "", " - Web Exclusive"))
        return sku, product.name + tail

    def _parts(self, item: _Item, size_style: int) -> list[str]:
        return [x for x in (item.brand, item.variant, item.family.noun, item.colour,
                            _alt_size(item.size, size_style)) if x]

    def _reordered(self, item: _Item, product: Product) -> tuple[str, str]:
        parts = self._parts(item, self.rnd.randint(0, 2))
        self.rnd.shuffle(parts)
        return self.new_sku(), " ".join(parts)

    def _synonym(self, item: _Item, product: Product) -> tuple[str, str]:
        name = product.name.replace(item.brand, "@")  # never "Blue" in "Blue Heron"
        words = [w for w in SYNONYMS if re.search(rf"\b{re.escape(w)}\b", name)
                 and (w == item.family.noun or w not in item.family.noun)]  # not "Green Tea"
        words = [w for w in words if not any(w != o and w in o for o in words)]
        for word in self.rnd.sample(words, min(len(words), self.rnd.randint(1, 2))):
            name = re.sub(rf"\b{re.escape(word)}\b", self.dialect[word], name)
        return self.new_sku(), name.replace("@", item.brand)

    def _typo(self, item: _Item, product: Product) -> tuple[str, str]:
        words = product.name.split()
        long = [n for n, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        for n in self.rnd.sample(long, min(len(long), self.rnd.randint(1, 2))):
            words[n] = _typo(self.rnd, words[n])
        return self.new_sku(), " ".join(words)

    def _sparse(self, item: _Item, product: Product) -> tuple[str, str]:
        parts = self._parts(item, self.rnd.randint(0, 2))
        parts.remove(item.variant)
        return self.new_sku(), " ".join(parts)


def _alt_size(size: str, style: int) -> str:
    """``size`` written as a shop might: 500g -> 0.5kg, 1l -> 1000ml, M -> Medium, ..."""
    match = re.fullmatch(r"(\d+)(g|kg|ml|l|pk)", size.lower())
    if size in SIZE_WORDS:
        return (SIZE_WORDS[size], size.lower(), f"Size {size}")[style]
    if not match:
        return size
    value, unit = int(match.group(1)), match.group(2)
    if unit == "pk":
        return (f"{value} Pack", f"x{value}", f"{value}-pack")[style]
    big = {"g": "kg", "ml": "l", "kg": "g", "l": "ml"}[unit]
    if unit in ("kg", "l"):
        return (f"{value * 1000}{big}", f"{value} {unit.upper()}", f"{value * 1000} {big}")[style]
    if unit == "ml" and style == 2:
        return f"{value // 10}cl"
    return (f"{value / 1000:g}{big}", f"{value} {unit}", f"{value / 1000:g} {big}")[style]


def _typo(rnd: random.Random, word: str) -> str:
    n = rnd.randrange(1, len(word) - 1)
    kind = rnd.choice(("swap", "drop", "double", "sub"))
    if kind == "swap":
        return word[:n] + word[n + 1] + word[n] + word[n + 2:]
    if kind == "drop":
        return word[:n] + word[n + 1:]
    if kind == "double":
        return word[:n] + word[n] + word[n:]
    return word[:n] + rnd.choice("aeiourstnl") + word[n + 1:]
