"""AMQP topic matching: `*` is exactly one dot-separated word, `#` zero or more.

`TopicIndex` holds many patterns in a trie of words (as RabbitMQ does), so matching a routing
key costs the length of the key, not the number of patterns."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether one pattern matches one routing key."""
    index: TopicIndex[bool] = TopicIndex()
    index.add(pattern, True)
    return bool(index.match(routing_key))


class _Node(Generic[T]):
    __slots__ = ("children", "values")

    def __init__(self) -> None:
        self.children: dict[str, _Node[T]] = {}
        self.values: set[T] = set()


class TopicIndex(Generic[T]):
    """Patterns, each with the values bound by it; `match` returns every value bound by a
    pattern that matches the key, once."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()

    def add(self, pattern: str, value: T) -> None:
        node = self._root
        for word in pattern.split("."):
            node = node.children.setdefault(word, _Node())
        node.values.add(value)

    def remove(self, pattern: str, value: T) -> None:
        path = [self._root]
        for word in pattern.split("."):
            child = path[-1].children.get(word)
            if child is None:
                return
            path.append(child)
        path[-1].values.discard(value)
        # Prune the branch that no pattern uses any more.
        words = pattern.split(".")
        for depth in range(len(words), 0, -1):
            node = path[depth]
            if node.values or node.children:
                break
            del path[depth - 1].children[words[depth - 1]]

    def match(self, routing_key: str) -> set[T]:
        found: set[T] = set()
        self._match(self._root, routing_key.split("."), 0, found)
        return found

    def _match(self, node: _Node[T], words: list[str], i: int, found: set[T]) -> None:
        children = node.children
        hash_node = children.get("#")
        if i == len(words):
            found |= node.values
            if hash_node is not None:  # `#` also matches zero words
                self._match(hash_node, words, i, found)
            return
        exact = children.get(words[i])
        if exact is not None:
            self._match(exact, words, i + 1, found)
        star = children.get("*")
        if star is not None:
            self._match(star, words, i + 1, found)
        if hash_node is not None:
            for j in range(i, len(words) + 1):
                self._match(hash_node, words, j, found)
