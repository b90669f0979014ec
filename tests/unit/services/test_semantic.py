"""The optional embedding (``kfsync[semantic]``): it ranks by meaning, never decides alone,
and never loads in the web process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from mappings.suggest import Product, SkuMatcher
from services import semantic

CATALOGUE = [Product("SW-RED-L", "Wool Sweater Red L", 4000),
             Product("SC-RED", "Wool Scarf Red", 4000),
             Product("TS-RED-L", "Cotton T-Shirt Red L", 4000),
             Product("MUG-BLU", "Enamel Mug Blue", 4010)]


def test_the_extra_is_installed_and_its_files_are_the_published_ones() -> None:
    assert semantic.available()
    vectors = semantic.embedder().embed(["Enamel Mug Blue", "blue enamel mug", "wool scarf"])
    assert vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[1]) > 0.9 > float(vectors[0] @ vectors[2])


def test_meaning_joins_the_ranking_with_its_reason_and_never_applies_alone() -> None:
    plain = SkuMatcher(CATALOGUE)
    meaning = SkuMatcher(CATALOGUE, similarity=semantic.similarity)
    query = ("MAG-1001", "Red Woollen Jumper, Large")
    [best, *_] = meaning.suggest(*query)
    assert best.target == "SW-RED-L" and not best.auto
    assert "meaning similarity" in best.reason
    assert "meaning similarity" not in plain.suggest(*query)[0].reason
    # Exact codes are decided as before, whatever the embedding thinks.
    assert meaning.suggest("MUG-BLU", "Red Woollen Jumper")[0].target == "MUG-BLU"


def test_the_web_process_never_loads_the_model(db_url: str, redis_url: str) -> None:
    """With the setting on, the dashboard's Run suggestions hands the work to a worker."""
    script = textwrap.dedent(f"""
        import sys
        from tests.unit.ingest.ops_helpers import make_app
        from tests.unit.ingest.test_dashboard import csrf, logged_in
        app = make_app({db_url!r}, {redis_url!r}, KFSYNC_SEMANTIC_SUGGESTIONS="1")
        client = logged_in(app)
        token = csrf(client.get("/mapping").get_data(as_text=True))
        page = client.post("/mapping/suggest", data={{"csrf_token": token}},
                           follow_redirects=True).get_data(as_text=True)
        assert "computed by a worker" in page, page
        loaded = [m for m in ("onnxruntime", "tokenizers", "services.semantic") if m in sys.modules]
        print("loaded:", loaded)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded: []" in done.stdout
