"""Full-text search over clinical notes (Chinese): positional character-bigram postings in
immutable, memory-mapped segments per lake part of ``note`` (an atomically swapped manifest, so
searches never block index updates), boolean queries with phrases, exact counts from postings,
results newest first and highlighted snippets for the returned page only."""

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
