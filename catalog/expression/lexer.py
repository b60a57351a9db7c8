"""Splits a partition expression into tokens, each with its 1-based position."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sluice.common.errors import InvalidInput

_SHOWN_CHARS = 40


class TokenKind(StrEnum):
    WORD = "word"
    QUOTED_NAME = "quoted name"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    OPERATOR = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end of input"


@dataclass(frozen=True)
class Token:
    """A token: `value` is its meaning (unquoted text, '<>' for '!='), `source` as written."""

    kind: TokenKind
    value: str
    position: int
    source: str

    def is_keyword(self, keyword: str) -> bool:
        return self.kind is TokenKind.WORD and self.value.upper() == keyword

    def describe(self) -> str:
        """The token as an error message shows it."""
        if self.kind is TokenKind.END:
            return "end of input"
        shown = show(self.source)
        if self.kind in (TokenKind.STRING, TokenKind.QUOTED_NAME):
            return shown
        return f"'{shown}'"


def show(text: str) -> str:
    """Text for an error message: shortened, control characters escaped."""
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def syntax_error(position: int, message: str) -> InvalidInput:
    return InvalidInput(f"expression error at position {position}: {message}")


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an END token.

    Raises:
        InvalidInput: an unexpected character, an unclosed quote or a malformed number.
    """
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self._text = text
        self._i = 0
        self._tokens: list[Token] = []

    def run(self) -> list[Token]:
        text = self._text
        while self._i < len(text):
            ch = text[self._i]
            if ch.isspace():
                self._i += 1
            elif ch == "'":
                self._string()
            elif ch == "`":
                self._quoted_name()
            elif (ch.isdigit() and ch.isascii()) or (ch == "-" and self._next_is_digit()):
                self._number()
            elif _starts_word(ch):
                self._word()
            elif ch in "=<>!":
                self._operator()
            elif ch in "(),":
                self._emit(TokenKind(ch), ch, self._i + 1)
            elif ch == '"':
                raise syntax_error(
                    self._i + 1, "unexpected character '\"': strings use single quotes"
                )
            else:
                raise syntax_error(self._i + 1, f"unexpected character '{show(ch)}'")
        self._tokens.append(Token(TokenKind.END, "", len(text) + 1, ""))
        return self._tokens

    def _emit(self, kind: TokenKind, value: str, end: int) -> None:
        self._tokens.append(Token(kind, value, self._i + 1, self._text[self._i : end]))
        self._i = end

    def _next_is_digit(self) -> bool:
        nxt = self._text[self._i + 1 : self._i + 2]
        return nxt.isdigit() and nxt.isascii()

    def _digits_end(self, start: int) -> int:
        end = start
        while end < len(self._text) and self._text[end].isascii() and self._text[end].isdigit():
            end += 1
        return end

    def _number(self) -> None:
        text = self._text
        start = self._i + 1 if text[self._i] == "-" else self._i
        end = self._digits_end(start)
        kind = TokenKind.INTEGER
        if end < len(text) and text[end] == ".":
            fraction_end = self._digits_end(end + 1)
            if fraction_end == end + 1:
                raise syntax_error(end + 2, "expected digits after the decimal point")
            kind, end = TokenKind.DECIMAL, fraction_end
        if end < len(text) and (_continues_word(text[end]) or text[end] == "."):
            while end < len(text) and (_continues_word(text[end]) or text[end] == "."):
                end += 1
            raise syntax_error(self._i + 1, f"malformed number '{show(text[self._i : end])}'")
        self._emit(kind, text[self._i : end], end)

    def _word(self) -> None:
        end = self._i + 1
        while end < len(self._text) and _continues_word(self._text[end]):
            end += 1
        self._emit(TokenKind.WORD, self._text[self._i : end], end)

    def _operator(self) -> None:
        pair = self._text[self._i : self._i + 2]
        if pair in ("<=", ">=", "<>"):
            self._emit(TokenKind.OPERATOR, pair, self._i + 2)
        elif pair == "!=":
            self._emit(TokenKind.OPERATOR, "<>", self._i + 2)
        elif pair[0] == "!":
            raise syntax_error(self._i + 1, "unexpected character '!': did you mean '!='?")
        else:
            self._emit(TokenKind.OPERATOR, pair[0], self._i + 1)

    def _string(self) -> None:
        contents, end = self._quoted("'")
        if end < 0:
            raise syntax_error(self._i + 1, "this string is not closed: a ' is missing")
        self._emit(TokenKind.STRING, contents, end)

    def _quoted_name(self) -> None:
        contents, end = self._quoted("`")
        if end < 0:
            raise syntax_error(self._i + 1, "this key name is not closed: a ` is missing")
        if not contents:
            raise syntax_error(self._i + 1, "a key name in back quotes must not be empty")
        self._emit(TokenKind.QUOTED_NAME, contents, end)

    def _quoted(self, quote: str) -> tuple[str, int]:
        """The contents of the quoted text at the cursor (a doubled quote is one quote) and the
        index just past its closing quote, or -1 if it is not closed."""
        text = self._text
        parts: list[str] = []
        i = self._i + 1
        while True:
            close = text.find(quote, i)
            if close < 0:
                return "", -1
            parts.append(text[i:close])
            if text[close + 1 : close + 2] != quote:
                return "".join(parts), close + 1
            parts.append(quote)
            i = close + 2


def _starts_word(ch: str) -> bool:
    return ch == "_" or ch.isalpha()


def _continues_word(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or (ch.isascii() and ch.isdigit())
