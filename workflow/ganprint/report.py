"""HTML pages of the result tables, for `snakemake --report` (which shows HTML and images,
not CSV)."""

import html
import os

import pandas as pd

from .errors import GanprintError
from .storage import atomic_path

STYLE = """
body { font-family: sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; vertical-align: top; }
th { white-space: nowrap; }
td { max-width: 32em; }
th { background: #f3f3f3; position: sticky; top: 0; }
td:first-child, th:first-child, td:nth-child(2) { text-align: left; }
"""


def table_page(table: pd.DataFrame, title: str) -> str:
    """One self-contained HTML page holding the table (numbers to two decimals, empty cells blank)."""
    body = table.to_html(index=False, na_rep="", float_format=lambda value: f"{value:.2f}", border=0)
    title = html.escape(title)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n<h3>{title}</h3>\n{body}\n</body></html>\n")


def write_table_page(table_path: str | os.PathLike, output: str | os.PathLike, title: str) -> None:
    try:
        table = pd.read_csv(table_path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise GanprintError(f"cannot read the table {table_path}: {error}") from error
    with atomic_path(output) as temporary:
        temporary.write_text(table_page(table, title))
