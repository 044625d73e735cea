"""Plain-text layout shared by the commands: aligned tables and indented blocks, deterministic bytes."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        indent + "  ".join(cell.ljust(widths[i]) if i < len(header) - 1 else cell for i, cell in enumerate(row))
        for row in cells
    ]


def wrap(text: str, indent: str = "  ", width: int = 100) -> list[str]:
    """Word-wrap one paragraph, every line indented."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(indent) + len(current) + 1 + len(word) > width:
            lines.append(indent + current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(indent + current)
    return lines
