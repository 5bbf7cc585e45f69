"""The corpora cotgen knows, by name, and where their files are looked for.

Every stage that needs utterances goes through :func:`load_corpus`, so ``cotgen corpus``,
``cotgen features`` and ``cotgen build`` agree on names, roots, class sets and drop rules.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType

from cotgen.core.errors import CotgenError
from cotgen.core.paths import CORPORA_DIR, USER_CORPORA_DIR
from cotgen.corpora import crema_d, emo_superb, esd, iemocap, manifest, meld, msp_improv, msp_podcast, ravdess, tess
from cotgen.corpora.classes import ClassSet, parse_class_set
from cotgen.corpora.entries import CorpusLoad
from cotgen.corpora.out_of_set import DEFAULT_RULE, check_rule

# (root, class set, self_eval, allow_missing_audio) -> load
Loader = Callable[[Path, ClassSet, bool, bool], CorpusLoad]


@dataclass(frozen=True)
class CorpusRecipe:
    """How to read one corpus: its name, class sets, expected layout, and the loader."""

    name: str
    classes_help: str
    layout_help: str
    default_classes: str
    loader: Loader
    supports_self_eval: bool = False

    def load(
        self,
        root: Path,
        classes: str | None = None,
        self_eval: bool = False,
        allow_missing_audio: bool = False,
        out_of_set: str = DEFAULT_RULE,
        no_majority: bool = False,
    ) -> CorpusLoad:
        """Read the corpus at ``root`` under the class set ``classes`` (the recipe's default when None), votes
        outside it handled by ``out_of_set`` (:mod:`cotgen.corpora.out_of_set`)."""
        if self_eval and not self.supports_self_eval:
            raise CotgenError(f"--self-eval applies to iemocap only, not {self.name}")
        try:
            rule = check_rule(out_of_set)
        except ValueError as exc:
            raise CotgenError(str(exc)) from None
        class_set = parse_class_set(
            classes if classes is not None else self.default_classes,
            given=classes is not None,
            out_of_set=rule,
            no_majority=no_majority,
        )
        return self.loader(root, class_set, self_eval, allow_missing_audio)


def _without_self_eval(load: Callable[..., CorpusLoad]) -> Loader:
    def loader(root: Path, class_set: ClassSet, self_eval: bool, allow_missing_audio: bool) -> CorpusLoad:
        return load(root, class_set, allow_missing_audio=allow_missing_audio)

    return loader


def _recipe(module: ModuleType, loader: Loader, supports_self_eval: bool = False) -> CorpusRecipe:
    """A recipe from a corpus module's NAME, CLASSES_HELP, LAYOUT and DEFAULT_CLASSES."""
    return CorpusRecipe(
        module.NAME, module.CLASSES_HELP, module.LAYOUT, module.DEFAULT_CLASSES, loader, supports_self_eval
    )


DEMO_NAME = "demo"
DEMO = CorpusRecipe(
    DEMO_NAME,
    "all (default: neu, hap, ang, sad), or a custom set",
    "manifest.csv and its clips, bundled with cotgen (a custom manifest)",
    manifest.DEFAULT_CLASSES,
    _without_self_eval(partial(manifest.load, corpus=DEMO_NAME)),
)

CORPORA: dict[str, CorpusRecipe] = {
    recipe.name: recipe
    for recipe in (
        _recipe(iemocap, iemocap.load, supports_self_eval=True),
        _recipe(crema_d, _without_self_eval(crema_d.load)),
        _recipe(msp_podcast, _without_self_eval(msp_podcast.load)),
        _recipe(msp_improv, _without_self_eval(msp_improv.load)),
        _recipe(emo_superb, _without_self_eval(emo_superb.load)),
        _recipe(meld, _without_self_eval(meld.load)),
        _recipe(ravdess, _without_self_eval(ravdess.load)),
        _recipe(esd, _without_self_eval(esd.load)),
        _recipe(tess, _without_self_eval(tess.load)),
        _recipe(manifest, _without_self_eval(manifest.load)),
        DEMO,
    )
}
ALIASES: dict[str, str] = {
    "crema_d": "crema-d",
    "cremad": "crema-d",
    "msp_podcast": "msp-podcast",
    "msp_improv": "msp-improv",
    "emo_superb": "emo-superb",
    "emosuperb": "emo-superb",
}


def canonical_name(name: str) -> str:
    """The registered name for ``name`` (case-insensitive, ``crema_d`` accepted); CotgenError when unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in CORPORA:
        close = difflib.get_close_matches(key, [*CORPORA, *ALIASES], n=1, cutoff=0.6)
        hint = f"did you mean {ALIASES.get(close[0], close[0])!r}? " if close else ""
        raise CotgenError(f"unknown corpus {name!r}; {hint}known: {', '.join(CORPORA)}")
    return key


def env_variable(name: str) -> str:
    """``COTGEN_<NAME>_ROOT`` for a corpus (``crema-d`` -> ``COTGEN_CREMA_D_ROOT``)."""
    return f"COTGEN_{canonical_name(name).upper().replace('-', '_')}_ROOT"


def candidate_roots(name: str) -> tuple[Path, ...]:
    """Folders tried for a corpus when ``--root`` is left out, in order: bundled with cotgen (the demo), then
    ``corpora/<name>/`` in the folder cotgen runs in, where users keep the corpora they may not share."""
    key = canonical_name(name)
    return (CORPORA_DIR / key, USER_CORPORA_DIR / key)


def resolve_root(name: str, root: Path | None = None) -> Path:
    """Where a corpus lives: ``root`` when given, else :func:`candidate_roots`, else ``$COTGEN_<NAME>_ROOT``."""
    if root is not None:
        return Path(root).expanduser()
    key = canonical_name(name)
    for folder in candidate_roots(key):
        if folder.exists():
            return folder
    variable = env_variable(key)
    from_env = os.environ.get(variable, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    raise CotgenError(f"where is {key}? pass --root PATH, put it in {USER_CORPORA_DIR / key}/, or set {variable}")


def corpus_folder(name: str, root: Path | None = None) -> Path:
    """The folder a corpus's files lie under, symlinks resolved: the root's, or a manifest file's folder.

    ``run.json`` records it (``corpus.root``): publishing and copying clips stay inside it.
    """
    resolved = resolve_root(name, root).resolve()
    return resolved.parent if resolved.is_file() else resolved


def load_corpus(
    name: str,
    root: Path | None = None,
    classes: str | None = None,
    self_eval: bool = False,
    allow_missing_audio: bool = False,
    out_of_set: str = DEFAULT_RULE,
    no_majority: bool = False,
) -> CorpusLoad:
    """Load corpus ``name`` from its resolved root: utterances, dropped entries, class codes."""
    recipe = CORPORA[canonical_name(name)]
    return recipe.load(
        resolve_root(recipe.name, root), classes, self_eval, allow_missing_audio, out_of_set, no_majority
    )
