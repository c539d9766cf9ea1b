"""RichText `<img src>`: the source's tag scanner finds what an HTML parser finds."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from sources.webflow.helpers import img_sources


class _Reference(HTMLParser):
    """What the source used before: the standard library's HTML parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources += [v.strip() for n, v in attrs if n == "src" and v]


def parsed(html: str) -> list[str]:
    parser = _Reference()
    parser.feed(html)
    parser.close()
    return parser.sources


CASES = [
    '<h2>T</h2><p>x</p><figure><img src="https://cdn.example/a.png" alt="t"></figure>',
    "<IMG SRC='https://cdn.example/b.png'><img src=https://cdn.example/c.png>",
    '<img alt="a > b src=no" src = " https://cdn.example/d.png?x=1&amp;y=2 " />',
    '<img data-src="no" srcset="no 2x" src="https://cdn.example/e.png">',
    '<a title="<img src=https://cdn.example/no.png>">link</a><img/src="/f.png">',
    "<p title=it's>x</p><img src='https://cdn.example/g.png'>",
    '<!-- <img src="https://cdn.example/no.png"> --><img src="https://cdn.example/h.png">',
    '<script>var s = "<img src=no.png>";</script><style>p{}</style><img src="i.png">',
    '<img src=""><img src><img alt="x"><imgx src="no.png"><img src="data:image/png;base64,AA">',
    '<p>a<b>c</b> 2 < 3 &lt;img src="no.png"&gt;</p><img\nsrc="j.png"\n>',
]


@pytest.mark.parametrize("html", CASES)
def test_img_sources_equal_an_html_parser(html: str) -> None:
    assert img_sources(html) == parsed(html)


def test_img_sources_of_a_long_value() -> None:
    html = "".join(CASES)
    assert img_sources(html) == parsed(html)
    assert len(img_sources(html)) == 11
