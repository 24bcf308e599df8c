"""The description wording, as data only: per-language sentence templates and words, the
English fallback's note, and the English openings per video category.

Kept as Python tables rather than a JSON file: ``Wording`` makes every language carry every
template (a missing or misspelt one fails at import, as does a colour list of the wrong
length), ruff keeps them formatted, and nothing has to load or check a file at run time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wording:
    """One language's sentence templates and words."""

    scene: str
    cut: str
    light: dict[str, str]
    colors: dict[str, str]
    joiner: str
    motion: dict[str, str]
    trend: dict[str, str]
    title: str
    onscreen: str
    opening: str
    ending: str


COLOR_NAMES = (
    "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "black", "grey", "white",
)  # fmt: skip


def _colors(names: str) -> dict[str, str]:
    """Colour words in ``COLOR_NAMES`` order, space-separated."""
    return dict(zip(COLOR_NAMES, names.split(), strict=True))


WORDINGS = {
    "en": Wording(
        scene="A {light} scene in {colors}.",
        cut="Cut to a {light} scene in {colors}.",
        light={"dark": "dark", "dim": "dimly lit", "bright": "bright"},
        colors=_colors(" ".join(COLOR_NAMES)),
        joiner=" and ",
        motion={
            "still": "The picture holds still.",
            "slow": "Soft shapes drift slowly across the frame.",
            "fast": "The picture moves quickly.",
        },
        trend={"darker": "It grows darker.", "brighter": "It grows brighter."},
        title='The title on screen reads "{text}".',
        onscreen='On-screen text: "{text}".',
        opening="The video begins.",
        ending="The video ends.",
    ),
    "es": Wording(
        scene="Una escena {light} en {colors}.",
        cut="Corte a una escena {light} en {colors}.",
        light={"dark": "oscura", "dim": "tenue", "bright": "luminosa"},
        colors=_colors("rojo naranja amarillo verde cian azul morado rosa negro gris blanco"),
        joiner=" y ",
        motion={
            "still": "La imagen permanece quieta.",
            "slow": "Formas suaves se desplazan lentamente por el encuadre.",
            "fast": "La imagen se mueve rápidamente.",
        },
        trend={"darker": "Se vuelve más oscura.", "brighter": "Se vuelve más luminosa."},
        title='El título en pantalla dice "{text}".',
        onscreen='Texto en pantalla: "{text}".',
        opening="Comienza el vídeo.",
        ending="Termina el vídeo.",
    ),
    "fr": Wording(
        scene="Une scène {light} en {colors}.",
        cut="Coupe vers une scène {light} en {colors}.",
        light={"dark": "sombre", "dim": "tamisée", "bright": "lumineuse"},
        colors=_colors("rouge orange jaune vert cyan bleu violet rose noir gris blanc"),
        joiner=" et ",
        motion={
            "still": "L'image reste immobile.",
            "slow": "Des formes douces glissent lentement dans le cadre.",
            "fast": "L'image bouge rapidement.",
        },
        trend={"darker": "Elle s'assombrit.", "brighter": "Elle s'éclaircit."},
        title="Le titre à l'écran indique « {text} ».",
        onscreen="Texte à l'écran : « {text} ».",
        opening="La vidéo commence.",
        ending="La vidéo se termine.",
    ),
    "de": Wording(
        scene="Eine {light} Szene in {colors}.",
        cut="Schnitt auf eine {light} Szene in {colors}.",
        light={"dark": "dunkle", "dim": "gedämpfte", "bright": "helle"},
        colors=_colors("Rot Orange Gelb Grün Cyan Blau Violett Rosa Schwarz Grau Weiß"),
        joiner=" und ",
        motion={
            "still": "Das Bild steht still.",
            "slow": "Weiche Formen gleiten langsam durch das Bild.",
            "fast": "Das Bild bewegt sich schnell.",
        },
        trend={"darker": "Es wird dunkler.", "brighter": "Es wird heller."},
        title="Der Titel im Bild lautet „{text}“.",
        onscreen="Text im Bild: „{text}“.",
        opening="Das Video beginnt.",
        ending="Das Video endet.",
    ),
    "it": Wording(
        scene="Una scena {light} in {colors}.",
        cut="Stacco su una scena {light} in {colors}.",
        light={"dark": "scura", "dim": "soffusa", "bright": "luminosa"},
        colors=_colors("rosso arancione giallo verde ciano blu viola rosa nero grigio bianco"),
        joiner=" e ",
        motion={
            "still": "L'immagine resta ferma.",
            "slow": "Forme morbide scivolano lentamente nell'inquadratura.",
            "fast": "L'immagine si muove rapidamente.",
        },
        trend={"darker": "Diventa più scura.", "brighter": "Diventa più luminosa."},
        title='Il titolo sullo schermo dice "{text}".',
        onscreen='Testo sullo schermo: "{text}".',
        opening="Il video inizia.",
        ending="Il video finisce.",
    ),
    "pt": Wording(
        scene="Uma cena {light} em {colors}.",
        cut="Corte para uma cena {light} em {colors}.",
        light={"dark": "escura", "dim": "suave", "bright": "clara"},
        colors=_colors("vermelho laranja amarelo verde ciano azul roxo rosa preto cinza branco"),
        joiner=" e ",
        motion={
            "still": "A imagem permanece parada.",
            "slow": "Formas suaves deslizam lentamente pelo quadro.",
            "fast": "A imagem se move rapidamente.",
        },
        trend={"darker": "Fica mais escura.", "brighter": "Fica mais clara."},
        title='O título na tela diz "{text}".',
        onscreen='Texto na tela: "{text}".',
        opening="O vídeo começa.",
        ending="O vídeo termina.",
    ),
    "nl": Wording(
        scene="Een {light} scène in {colors}.",
        cut="Overgang naar een {light} scène in {colors}.",
        light={"dark": "donkere", "dim": "gedempte", "bright": "heldere"},
        colors=_colors("rood oranje geel groen cyaan blauw paars roze zwart grijs wit"),
        joiner=" en ",
        motion={
            "still": "Het beeld staat stil.",
            "slow": "Zachte vormen drijven langzaam door het beeld.",
            "fast": "Het beeld beweegt snel.",
        },
        trend={"darker": "Het wordt donkerder.", "brighter": "Het wordt lichter."},
        title='De titel in beeld luidt "{text}".',
        onscreen='Tekst in beeld: "{text}".',
        opening="De video begint.",
        ending="De video eindigt.",
    ),
}
"""Languages (by primary subtag) with real templates; the others fall back to ``en``."""
FALLBACK_WORDING = "en"
FALLBACK_NOTE = "The sandbox has no {name} wording: the descriptions are in English."

CATEGORY_OPENINGS = {
    "Educational Lecture": "The lecture begins.",
    "Educational Kids": "The children's video begins.",
    "Government Meeting": "The meeting begins.",
    "Documentary": "The documentary begins.",
    "Narrative Story": "The story begins.",
    "Social Media": "The clip begins.",
    "Tutorial/How-To": "The tutorial begins.",
    "Vlog": "The vlog begins.",
    "Commercial/Advertisement": "The commercial begins.",
    "News": "The news report begins.",
    "Entertainment": "The show begins.",
    "Home Video": "The home video begins.",
    "Video Call": "The video call begins.",
}
"""English openings by category (extended_ad); ``Auto`` and other languages use ``opening``."""
