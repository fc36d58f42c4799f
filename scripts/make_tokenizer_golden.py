#!/usr/bin/env python3
"""Make the tokenizer golden file Tests/OctetTests/Fixtures/tokenizer-golden.json.

The reference is Hugging Face's `tokenizers` (the Rust library's Python binding)
loading the reference model's tokenizer.json. Every text is encoded with
`add_special_tokens=False` and with the padding/truncation that tokenizer.json
carries switched OFF (the file ships `truncation: max_length 128` and
`padding: Fixed 128`, which would otherwise truncate contexts and append [PAD]s).

Contents (one JSON object, one item per line for readable diffs):
  meta        tokenizers version, sha256 of tokenizer.json and of the SQuAD file,
              source file names, normalizer / pre-tokenizer / model settings
  questions   the first N (default 5,000) questions of train-v1.1.json in file
              order, left-stripped (`q.lstrip()`, as run_qa.py does)
  contexts    the first M (default 1,000) distinct paragraph contexts, file order
  edge_cases  hand-written strings exercising the BERT normalizer, pre-tokenizer
              and WordPiece (each with a short `name`)
Each item: {"text": str, "ids": [int], "offsets": [[start, end]]}; offsets are
what the Python binding returns: Unicode code-point (not UTF-8 / UTF-16) offsets
into the ORIGINAL text, end exclusive.

In the file, invisible characters inside strings (control, format, separator,
private-use, unassigned, and non-ASCII spaces) are written as \\uXXXX escapes so
diffs stay readable; the JSON decodes to exactly the same strings.

Re-run (from the repo root):
    bash scripts/python-env.sh                 # creates/updates .venv, prints its python
    .venv/bin/python scripts/make_tokenizer_golden.py
Options: --tokenizer PATH --squad PATH --out PATH --questions N --contexts N
(relative paths are taken relative to the repo root; defaults use ../shared/...).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOKENIZER = "../shared/models/minilm-l6-squad/tokenizer.json"
DEFAULT_SQUAD = "../shared/data/squad/train-v1.1.json"
DEFAULT_OUT = "Tests/OctetTests/Fixtures/tokenizer-golden.json"


# (name, text). Notes describe what the Rust BertNormalizer does (clean_text,
# handle_chinese_chars, strip_accents = NFD + drop Mn, lowercase char by char),
# then BertPreTokenizer (split on whitespace, isolate ASCII punctuation and
# Unicode P*), then WordPiece (max_input_chars_per_word = 100, else [UNK]).
EDGE_CASES: list[tuple[str, str]] = [
    # --- accents / combining marks
    ("accent_precomposed", "café résumé naïve"),
    ("accent_combining_u0301", "cafe\u0301 re\u0301sume\u0301"),
    ("accent_upper_n_tilde", "ÑANDÚ Ñu año"),
    ("accent_a_ring_and_angstrom_sign", "Ångström \u212b \u00c5"),
    ("accent_multiple_combining", "a\u0301\u0302\u0303b o\u0308\u0304"),
    ("combining_mark_alone", "\u0301"),
    ("combining_mark_at_start_of_word", "\u0301abc \u0308x"),
    ("combining_mark_on_punctuation_and_cjk", "!\u0301 ?\u0308 中\u0301文"),
    ("vietnamese_stacked_diacritics", "Tiếng Việt có dấu Người"),
    ("greek_tonos_dialytika", "Ά ΐ ΰ ώ Ελληνικά"),
    # --- case mapping
    ("dotted_capital_i_u0130", "İstanbul İZMİR Dİ"),
    ("dotless_small_i_u0131", "ıspanak KIRMIZI"),
    ("capital_sharp_s_u1e9e", "STRAẞE Straße ẞ"),
    ("final_sigma", "ΟΔΟΣ ΣΊΣΥΦΟΣ Σ ΣΑΣ"),
    ("titlecase_digraphs", "ǅemal ǈ ǋ Ǆ ǉ"),
    ("kelvin_ohm_signs", "5 \u212a 10 \u2126 \u212a\u2126"),
    ("cyrillic_upper", "Привет МИР Ёлка"),
    # --- CJK and other scripts
    ("cjk_mixed_with_latin", "中文English混合text日本"),
    ("cjk_with_digits", "2024年3月15日に"),
    ("japanese_kana_not_cjk", "日本語のテキスト カタカナ ひらがなです"),
    ("halfwidth_katakana", "ｶﾀｶﾅ ﾃｽﾄ"),
    ("hangul_syllables", "한국어 텍스트 안녕하세요"),
    ("cjk_ext_b_astral_u20000", "\U00020000\U00020001 𠀀abc"),
    ("cjk_compat_ideograph", "\uf900\uf901 \u2f00"),
    ("arabic", "مرحبا بالعالم، كيف حالك؟"),
    ("arabic_with_harakat", "مَرْحَبًا"),
    ("hebrew_with_niqqud", "שָׁלוֹם עולם"),
    ("devanagari_virama_matras", "नमस्ते दुनिया हिन्दी"),
    ("thai_no_spaces", "ภาษาไทยง่ายนิดเดียว"),
    # --- emoji / astral
    ("emoji", "I ❤️ NLP 😀👍🏽 👨\u200d👩\u200d👧 🇫🇷"),
    ("math_alphanumeric_astral", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 𝐀𝐁𝐂"),
    # --- control / format characters
    ("nul_inside_word", "hello\u0000world a\u0000 b"),
    ("bell_control", "bell\u0007ring \u0007"),
    ("replacement_char_fffd", "x\ufffdy \ufffd z"),
    ("zero_width_joiner_and_space", "zero\u200dwidth zero\u200bspace"),
    ("soft_hyphen", "soft\u00adhyphen"),
    ("bom_feff", "\ufeffBOM at start and mid\ufeffword"),
    ("nel_u0085_and_line_separators", "a\u0085b c\u2028d e\u2029f"),
    ("private_use_and_unassigned", "p\ue000q r\u0378s"),
    ("del_and_c1_controls", "del\u007fete esc\u001bape c1\u0090x"),
    # --- whitespace
    ("tabs_newlines_crlf", "tab\tsep\nnew\r\ncrlf\rcr"),
    ("nbsp_ideographic_space", "non\u00a0breaking ideo\u3000space thin\u2009sp ogham\u1680x"),
    ("only_whitespace", " \t\n\r\u00a0\u3000 "),
    ("leading_trailing_whitespace", "   padded words   "),
    ("empty_string", ""),
    ("normalizes_to_empty", "\u200d\u00ad\ufeff\u0000\ufffd\u0301"),
    # --- punctuation
    ("unicode_punctuation", "“quoted” — dash… «guillemets» ¿qué? ¡sí! ‘single’"),
    ("ascii_punct_not_unicode_p", "$100 + 2 < 3 = x > y ^ z `code` a|b ~tilde"),
    ("ascii_punct_glued", "a$b+c<d=e>f^g`h|i~j"),
    ("ascii_punct_all", "!\"#%&'()*,-./:;?@[\\]_{}"),
    ("symbols_not_punctuation", "5€ £3 ¥100 ∑x² ©2024 ™ ° ± × ÷ ☃"),
    ("repeated_punctuation", "Wait!!! Really??? ... --- ''quoted'' ``tex``"),
    ("contractions_and_abbrev", "don't can’t U.S.A. e-mail co-operate 3.5% 12:30pm 1/2"),
    ("url_email_hashtag", "https://example.com/a?b=c&d=e user@example.com #tag @me C++ C#"),
    # --- digits, numerals, compatibility characters (no NFKC in BERT)
    ("digits", "1234567890 3.14159 1,000,000 007"),
    ("ligatures", "ﬁnancial ﬂow eﬀort"),
    ("fullwidth_latin_digits", "ＡＢＣ ａｂｃ １２３ ！"),
    ("roman_numerals", "Ⅻ Ⅳ ⅻ Chapter XII"),
    ("superscripts_subscripts_fractions", "E=mc² x³ H₂O ½ ¾"),
    ("circled_and_other_digits", "① ② ٣ ४"),
    # --- special tokens appearing in the text (added tokens are matched even
    #     with add_special_tokens=False; they are case-sensitive, not normalized)
    ("special_tokens_in_text", "[CLS] hello [SEP] [MASK] [UNK] [PAD] world"),
    ("special_tokens_lowercase_and_glued", "[cls] x[SEP]y [MASK]."),
    # --- WordPiece length limit and unknown pieces
    ("word_exactly_100_chars", "a" * 100),
    ("word_101_chars", "a" * 101),
    ("word_100_and_101_in_sentence", "start " + "ab" * 50 + " mid " + "ab" * 50 + "c end"),
    ("word_over_100_before_accent_strip", "e\u0301" * 60),
    ("word_100_with_trailing_punct", "x" * 100 + "!"),
    ("long_known_pieces", "supercalifragilisticexpialidocious antidisestablishmentarianism"),
    ("unknown_char_inside_word", "abc\u2603def plain"),
    ("unknown_script_long_word", "ꙮ" * 30 + " " + "\U00010330\U00010331\U00010332" * 5),
    ("mixed_case_camel", "iPhone McDonald's eBay HTTPServer"),
]


def repo_path(p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() else (REPO / path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Invisible code points written as \uXXXX in the file (the ASCII space stays).
_ESCAPE_CATEGORIES = {"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"}


def _escape_char(c: str) -> str:
    cp = ord(c)
    if cp < 0x10000:
        return "\\u%04x" % cp
    cp -= 0x10000
    return "\\u%04x\\u%04x" % (0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF))


def dumps(obj) -> str:
    """Compact JSON as UTF-8 text, with invisible code points escaped.

    Non-ASCII characters occur only inside JSON strings, so escaping them after
    json.dumps is safe and decodes to the same string.
    """
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return "".join(
        _escape_char(c) if ord(c) >= 0x80 and unicodedata.category(c) in _ESCAPE_CATEGORIES else c
        for c in s
    )


def encode(tok, text: str) -> dict:
    enc = tok.encode(text, add_special_tokens=False)
    return {"text": text, "ids": list(enc.ids), "offsets": [[s, e] for s, e in enc.offsets]}


def write_golden(path: Path, meta: dict, sections: dict[str, list[dict]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write('{"meta":' + json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True))
        for name, items in sections.items():
            f.write(',\n"%s":[\n' % name)
            f.write(",\n".join(dumps(item) for item in items))
            f.write("\n]")
        f.write("}\n")
    os.replace(tmp, path)


def check(sections: dict[str, list[dict]]) -> list[str]:
    """Sanity checks (asserts); returns short notes about unusual offsets.

    Offsets may legitimately repeat: when one original character becomes several
    normalized characters that land in different pieces (Hangul syllables are
    NFD-decomposed into jamo), every such piece maps back to the whole character.
    """
    notes = []
    for name, items in sections.items():
        for i, it in enumerate(items):
            text, offs = it["text"], it["offsets"]
            assert len(it["ids"]) == len(offs), (name, i)
            shared = empty = 0
            prev = None
            for s, e in offs:
                assert 0 <= s <= e <= len(text), (name, i, s, e, len(text))
                if prev is not None:
                    assert s >= prev[0], (name, i, "offsets go backwards")
                    if s < prev[1]:
                        shared += 1
                empty += s == e
                prev = (s, e)
            if shared or empty:
                label = f"{name}[{i}]" + (f" {it['name']}" if "name" in it else "")
                notes.append(f"{label}: {shared} tokens overlap the previous token's span, {empty} empty spans")
    return notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--squad", default=DEFAULT_SQUAD)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--questions", type=int, default=5000)
    ap.add_argument("--contexts", type=int, default=1000)
    args = ap.parse_args(argv)

    import tokenizers
    from tokenizers import Tokenizer

    tok_path = repo_path(args.tokenizer)
    squad_path = repo_path(args.squad)
    out_path = repo_path(args.out)

    tok = Tokenizer.from_file(str(tok_path))
    # tokenizer.json ships truncation (128) and fixed padding (128): turn both off.
    tok.no_truncation()
    tok.no_padding()

    with open(squad_path, encoding="utf-8") as f:
        squad = json.load(f)

    questions: list[str] = []
    contexts: list[str] = []
    seen: set[str] = set()
    for article in squad["data"]:
        for para in article["paragraphs"]:
            ctx = para["context"]
            if len(contexts) < args.contexts and ctx not in seen:
                seen.add(ctx)
                contexts.append(ctx)
            for qa in para["qas"]:
                if len(questions) < args.questions:
                    questions.append(qa["question"].lstrip())
    if len(questions) < args.questions or len(contexts) < args.contexts:
        print(f"warning: only {len(questions)} questions, {len(contexts)} contexts", file=sys.stderr)

    names = [n for n, _ in EDGE_CASES]
    assert len(set(names)) == len(names), "duplicate edge-case names"

    sections = {
        "questions": [encode(tok, q) for q in questions],
        "contexts": [encode(tok, c) for c in contexts],
        "edge_cases": [{"name": n, **encode(tok, t)} for n, t in EDGE_CASES],
    }

    with open(tok_path, encoding="utf-8") as f:
        tj = json.load(f)
    model_cfg = {k: v for k, v in tj["model"].items() if k != "vocab"}
    meta = {
        "generator": "scripts/make_tokenizer_golden.py",
        "tokenizers_version": tokenizers.__version__,
        "tokenizer_file": args.tokenizer,
        "tokenizer_sha256": sha256_file(tok_path),
        "squad_file": args.squad,
        "squad_sha256": sha256_file(squad_path),
        "add_special_tokens": False,
        "padding": None,
        "truncation": None,
        "question_preprocessing": "q.lstrip()",
        "offsets": "Unicode code points into the original text, [start, end)",
        "normalizer": tj["normalizer"],
        "pre_tokenizer": tj["pre_tokenizer"],
        "model": model_cfg,
        "counts": {k: len(v) for k, v in sections.items()},
    }

    notes = check(sections)
    write_golden(out_path, meta, sections)

    size = out_path.stat().st_size
    ntok = {k: sum(len(it["ids"]) for it in v) for k, v in sections.items()}
    print(f"wrote {out_path} ({size:,} bytes, {size / 1e6:.2f} MB)")
    for k, v in sections.items():
        print(f"  {k}: {len(v)} items, {ntok[k]:,} tokens")
    for n in notes:
        print("  note:", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
