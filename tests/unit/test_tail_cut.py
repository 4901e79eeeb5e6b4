"""Property test: cutting a chunk into lines by the ASCII fast path gives what the general
path gives: the same lines (offsets, texts, sizes, flags), bytes consumed and skip state, for
chunks of any bytes (other scripts, invalid UTF-8, CR, overlong lines, no newline at all) and
any room left in the read."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from logwax.connectors.files.tail import Line, TailedFile

PIECES = st.sampled_from(
    [b"a", b"bc", b" ", b"\r", b"\xc3\xa9", b"\xff", b"\n", b"x" * 9, b'"\\', b"\t\x00"]
)
CHUNKS = st.lists(PIECES, max_size=40).map(b"".join)


def _tailed(offset: int, most: int) -> TailedFile:
    return TailedFile("f", Path("a.log"), offset, None, 1, most)  # type: ignore[arg-type]


@settings(max_examples=600, deadline=None)
@given(
    chunk=CHUNKS,
    offset=st.integers(min_value=0, max_value=10**6),
    most=st.integers(min_value=1, max_value=30),
    limit=st.integers(min_value=1, max_value=12),
    before=st.integers(min_value=0, max_value=11),
)
@example(chunk=b"a\nbc\n", offset=0, most=10, limit=5, before=0)
@example(chunk=b"a\nbc\nde", offset=3, most=10, limit=2, before=0)
@example(chunk=b"\n\n\n", offset=0, most=1, limit=2, before=0)
@example(chunk=b"ab\n" + b"x" * 40, offset=0, most=10, limit=5, before=0)
@example(chunk=b"a\r\nb\rc\r\n\r\n", offset=7, most=4, limit=5, before=0)
def test_the_fast_cut_is_the_general_cut(
    chunk: bytes, offset: int, most: int, limit: int, before: int
) -> None:
    earlier = [Line(0, "earlier", 7, False, False)] * min(before, limit - 1)
    fast, general = _tailed(offset, most), _tailed(offset, most)
    fast_lines, general_lines = list(earlier), list(earlier)
    consumed = fast._cut(chunk, fast_lines, limit)
    assert consumed == general._cut_general(chunk, general_lines, limit)
    assert fast_lines == general_lines
    assert (fast.offset, fast._skip_from) == (general.offset, general._skip_from)
