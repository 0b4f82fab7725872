"""Full-text search over clinical notes (Chinese): a character-bigram inverted index kept per lake
part of ``note``, boolean queries with phrases, exact verification and highlighted snippets."""

from medlake.search.index import IndexUpdate, update_index
from medlake.search.query import parse_query
from medlake.search.searcher import Hit, NoteSearcher, SearchResult, search_notes

__all__ = [
    "Hit",
    "IndexUpdate",
    "NoteSearcher",
    "SearchResult",
    "parse_query",
    "search_notes",
    "update_index",
]
