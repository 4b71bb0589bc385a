"""``{% load exchange_words %}``: an exchange in the words of the person reading it
(``exchanges.words``), e.g. ``{% story exchange person %}``."""

from __future__ import annotations

from django import template

from members.models import Person

from .. import words
from ..models import Exchange

register = template.Library()


@register.simple_tag
def story(exchange: Exchange, viewer: Person | None) -> str:
    return words.story(exchange, viewer)


@register.simple_tag
def exchange_state(exchange: Exchange, viewer: Person | None) -> str:
    return words.state(exchange, viewer)


@register.simple_tag
def with_whom(exchange: Exchange, viewer: Person | None) -> str:
    return words.other_person(exchange, viewer)


@register.simple_tag
def confirm_question(exchange: Exchange, viewer: Person) -> str:
    return words.confirm_question(exchange, viewer)


@register.simple_tag
def yes_label(exchange: Exchange, viewer: Person) -> str:
    return words.yes_label(exchange, viewer)
