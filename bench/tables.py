"""Markdown table helpers shared by the report's parts."""


def fmt(stat, digits=2):
    """'3.10 [2.90–3.30]' from a summary dict."""
    if stat is None:
        return "–"
    return f"{stat['median']:.{digits}f} [{stat['min']:.{digits}f}–{stat['max']:.{digits}f}]"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
