"""What every ``app.yaml`` model is: strict and frozen; and an entry that knows its key.

Every model forbids unknown keys (a typo must not silently fall back to a
default) and is frozen (the config is shared by every request thread).
"""

from __future__ import annotations

from pydantic import AfterValidator, BaseModel, ConfigDict, PrivateAttr

from bot.config.fields import unique

Unique = AfterValidator(unique)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Keyed(Model):
    """An entry of a mapping section; ``key`` is its name there (``graphic_violence``)."""

    _key: str = PrivateAttr("")

    @property
    def key(self) -> str:
        return self._key
