"""``procmix`` verbs of the classifiers: train-classifiers, distil-word-vectors,
eval-classifiers, tag."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from classifiers.model import MODELS_DIR
from classifiers.static import TABLE_FILE, word_table
from classifiers.taxonomy import TASK_TYPE
from classifiers.train import TASK_MODELS, TrainParams
from classifiers.word_vectors import TEACHERS, VECTORS_FILE, load_for

DEFAULT_DATA = "../shared/data"
_DEFAULTS = TrainParams()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _error(verb: str, problem: Exception | str) -> int:
    print(f"procmix {verb}: error: {problem}", file=sys.stderr)
    return 2


def _params(args: argparse.Namespace) -> TrainParams:
    """The training options; the word vectors are checked here, before any model trains."""
    params = TrainParams(
        cap_per_source=args.cap_per_source,
        epoch=args.epoch,
        lr=args.lr,
        dim=args.dim,
        word_ngrams=args.word_ngrams,
        bucket=args.bucket,
        workers=args.workers,
        seed=args.seed,
        word_vectors=None if args.word_vectors == "none" else Path(args.word_vectors),
        task_model=args.task_model,
    )
    task = params.for_head(TASK_TYPE)
    if task.word_vectors is not None:
        load_for(task.word_vectors, params.dim)
    if task.uses_table:
        word_table(params.table)
    return params


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cap-per-source",
        type=int,
        default=_DEFAULTS.cap_per_source,
        help="documents taken from one source at most (split across its labels)",
    )
    p.add_argument("--epoch", type=int, default=_DEFAULTS.epoch, help="fastText epochs")
    p.add_argument("--lr", type=float, default=_DEFAULTS.lr, help="fastText learning rate")
    p.add_argument("--dim", type=int, default=_DEFAULTS.dim, help="fastText vector size")
    p.add_argument(
        "--word-ngrams", type=int, default=_DEFAULTS.word_ngrams, help="fastText word n-grams"
    )
    p.add_argument(
        "--bucket", type=int, default=_DEFAULTS.bucket, help="fastText hash buckets for n-grams"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=_DEFAULTS.workers,
        help="models trained at once, one fastText thread each (the models do not depend on it)",
    )
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="sampling and fastText seed")
    p.add_argument(
        "--word-vectors",
        default=str(_DEFAULTS.word_vectors),
        help="starting input vectors of a fastText task-type head (from distil-word-vectors), "
        "or 'none' for fastText's random start",
    )
    p.add_argument(
        "--task-model",
        choices=TASK_MODELS,
        default=_DEFAULTS.task_model,
        help="the task-type head's model: fastText and a linear layer over the word table "
        f"{TABLE_FILE.name} fused, the layer alone (static), or fastText alone",
    )


def _train(args: argparse.Namespace) -> int:
    from classifiers.build import REPORT, train_classifiers

    data = Path(args.data)
    if not data.exists():
        return _error("train-classifiers", f"{data} does not exist")
    try:
        params = _params(args)
    except ValueError as e:
        return _error("train-classifiers", e)
    bench = None
    if args.bench is not None:
        try:
            bench = json.loads(Path(args.bench).read_text())
        except (OSError, ValueError) as e:
            return _error("train-classifiers", f"--bench {args.bench}: {e}")
    dev = Path(args.dev) if args.dev else None
    if dev is not None and not dev.exists():
        return _error("train-classifiers", f"{dev} does not exist")
    report = train_classifiers(data, Path(args.out), params, _log, bench, dev)
    for head, result in report.items():
        loso, in_dist = result["loso"], result["in_distribution"]
        print(
            f"{head}: leave-one-source-out macro-F1 {loso['macro_f1']:.4f} ECE {loso['ece']:.4f}; "
            f"in-distribution macro-F1 {in_dist['macro_f1']:.4f}; "
            f"model {result['size_bytes'] / 1e6:.1f} MB"
        )
        if "dev" in result:
            d = result["dev"]
            print(
                f"{head}: dev (cross-fitted) macro-F1 {d['macro_f1']:.4f} ECE {d['ece']:.4f}; "
                f"web part macro-F1 {d['web']['macro_f1']:.4f}"
            )
    print(f"wrote {args.out}: models, *.meta.json, *.confusion.json, {REPORT}")
    return 0


def _distil(args: argparse.Namespace) -> int:
    from classifiers.dataset import read_docs
    from classifiers.preprocess import preprocess
    from classifiers.word_vectors import distil, save

    data = Path(args.data)
    if not data.exists():
        return _error("distil-word-vectors", f"{data} does not exist")
    docs = list(read_docs(data, _log))
    _log(f"read {len(docs)} documents from {data}")
    try:
        words, vectors = distil(
            preprocess([d.text for d in docs]),
            args.dim,
            _log,
            teacher=args.teacher,
            max_words=args.max_words,
        )
    except (RuntimeError, ValueError) as e:
        return _error("distil-word-vectors", e)
    save(Path(args.out), words, vectors, int8=args.int8)
    print(f"wrote {args.out}: {len(words)} words x {args.dim} dimensions")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from classifiers.evaluate import (
        evaluate_models,
        format_head,
        format_spread,
        loso_models,
        loso_over_seeds,
    )

    path = Path(args.labelled)
    if not path.exists():
        return _error("eval-classifiers", f"{path} does not exist")
    if args.seeds and not args.loso:
        return _error("eval-classifiers", "--seeds needs --loso (the shipped models have no seed)")
    if args.loso:
        try:
            params = _params(args)
        except ValueError as e:
            return _error("eval-classifiers", e)
        if args.seeds:
            report = loso_over_seeds(path, params, args.seeds, _log)
            print(json.dumps(report) if args.json else format_spread(report))
            return 0
        report = loso_models(path, params, _log)
    else:
        report = evaluate_models(path, Path(args.models))
    if args.json:
        print(json.dumps(report))
    else:
        print("\n\n".join(format_head(head, result) for head, result in report.items()))
    return 0


def _tag(args: argparse.Namespace) -> int:
    from classifiers.tag_jsonl import tag_jsonl

    source = Path(args.input)
    if not source.is_file():
        return _error("tag", f"{source} is not a file")
    report = tag_jsonl(source, Path(args.out), Path(args.models), args.batch_size)
    for warning in report.warnings:
        print(f"procmix tag: warning: {source}: {warning}", file=sys.stderr)
    print(f"tagged {report.tagged} documents -> {args.out}")
    if report.quarantine is not None:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(report.quarantined.items()))
        print(
            f"quarantined {report.quarantined.total()} records ({reasons}) -> {report.quarantine}"
        )
    return 0


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add the classifiers' verbs to procmix's subcommands."""
    formatter = argparse.ArgumentDefaultsHelpFormatter
    t = verbs.add_parser(
        "train-classifiers",
        help="train the content-type and task-type models",
        description=(
            "Train both heads on labelled JSONL (fields text, source, label_procedural, "
            "task_type): leave-one-source-out predictions give the honest scores, the "
            "temperature, the procedural threshold and P(true | predicted); then each head "
            "is trained on every source (content type: fastText, quantised; task type: "
            "fastText started from --word-vectors, fused with a linear layer over the word "
            "table; see --task-model). Writes OUT/content_type.ftz, OUT/task_type.ftz and "
            "OUT/task_type.layer.json, their .meta.json and .confusion.json, and "
            "OUT/report.json. The same data and "
            "options give byte-identical files. About 8 minutes on 2 cores for ../shared/data."
        ),
        formatter_class=formatter,
    )
    t.add_argument("--data", default=DEFAULT_DATA, help="labelled JSONL file or folder")
    t.add_argument("--out", default=str(MODELS_DIR), help="folder for the models")
    t.add_argument(
        "--bench",
        default=None,
        help="tagging bench report (bench/results/classifiers.json) whose throughput the "
        "model card states; without it the card says it is not measured",
    )
    t.add_argument(
        "--dev",
        default=None,
        help="labelled JSONL of sources in no training file (e.g. ../shared/dev), never "
        "trained on: the shipped rule and P(true | predicted) are fitted on the models' "
        "predictions there and report.json gets its cross-fitted figures; without it both "
        "come from the leave-one-source-out predictions",
    )
    _add_train_options(t)
    t.set_defaults(func=_train)

    w = verbs.add_parser(
        "distil-word-vectors",
        help="distil static word vectors from a teacher: the task head's word table, or "
        "a fastText head's starting vectors",
        description=(
            "Encode every word seen 3 times or more in DATA (after the classifiers' "
            "preprocessing; the MAX_WORDS most frequent, if given) with the teacher, each "
            "word alone, and keep the first DIM principal components. With wordllama "
            "(make word-table: --teacher wordllama --dim 128 --max-words 32000 --int8 "
            f"--out {TABLE_FILE.relative_to(TABLE_FILE.parents[2])}) it is the static task "
            "head's word table; with minilm (make word-vectors) the starting input vectors "
            "of a fastText task head. Needs the optional teacher (the make targets install "
            "it in their own venv); minutes on 2 cores for ../shared/data."
        ),
        formatter_class=formatter,
    )
    w.add_argument("--data", default=DEFAULT_DATA, help="JSONL file or folder (labels unused)")
    w.add_argument("--out", default=str(VECTORS_FILE), help="word-vectors file (.npz)")
    w.add_argument("--dim", type=int, default=_DEFAULTS.dim, help="components kept")
    w.add_argument("--teacher", choices=sorted(TEACHERS), default="minilm", help="teacher")
    w.add_argument(
        "--max-words", type=int, default=None, help="most frequent words kept (default all)"
    )
    w.add_argument(
        "--int8", action="store_true", help="store int8 with a scale a row instead of float16"
    )
    w.set_defaults(func=_distil)

    e = verbs.add_parser(
        "eval-classifiers",
        help="score the classifiers on labelled JSONL",
        description=(
            "Read JSONL with text, label_procedural and task_type (nulls skipped per head) "
            "and print per head: accuracy, macro-F1, per-class precision/recall/F1/support, "
            "the confusion matrix and the expected calibration error (10 bins). Macro-F1 "
            "averages F1 over the union of true and predicted labels (a label the set "
            "lacks but the model predicts counts as F1 0); the mean over the true labels "
            "only is printed beside it. With --loso, "
            "LABELLED is a training set: every source is scored by a model trained without "
            "it (the training options apply), instead of scoring the shipped models; with "
            "--seeds, once per seed, to see how far the seed alone moves each figure."
        ),
        formatter_class=formatter,
    )
    e.add_argument("labelled", metavar="LABELLED", help="labelled JSONL file (or folder)")
    e.add_argument("--models", default=str(MODELS_DIR), help="folder holding the models")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument(
        "--loso", action="store_true", help="leave-one-source-out evaluation of the recipe"
    )
    e.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="SEED",
        help="with --loso: run it once per seed (instead of --seed) and report each figure's "
        "mean, min and max; with --json {seeds, runs: {seed: report}, spread}",
    )
    _add_train_options(e)
    e.set_defaults(func=_eval)

    g = verbs.add_parser(
        "tag",
        help="tag a JSONL file with content type and task type",
        description=(
            "Add content_type, p_procedural, p_factual, p_other, task_type, task_p and "
            "task_top3 to every record of a JSONL file (gzip allowed), as prepare does, "
            "without deduplication. Input fields with those names are kept as input_<name>. "
            "Records prepare would quarantine (malformed JSON, no text, ...) are written "
            "with their reason to NAME.quarantine.jsonl beside OUT instead (NAME: OUT "
            "without .jsonl and .gz)."
        ),
        formatter_class=formatter,
    )
    g.add_argument("input", metavar="INPUT.jsonl", help="JSONL file (.jsonl or .jsonl.gz)")
    g.add_argument("-o", "--out", required=True, help="output JSONL file")
    g.add_argument("--models", default=str(MODELS_DIR), help="folder holding the models")
    g.add_argument("--batch-size", type=int, default=1024, help="records tagged at once")
    g.set_defaults(func=_tag)
