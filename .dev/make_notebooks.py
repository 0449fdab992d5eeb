"""Write the notebooks in notebooks/ from the cell lists below (run after editing them).

    .venv/bin/python .dev/make_notebooks.py            # every notebook
    .venv/bin/python .dev/make_notebooks.py 00 20      # only those whose name starts so

Every notebook but 90_bring_your_own_model runs offline on the demo world (tests/test_notebooks.py
executes them headless); 90 downloads its example assets and stops at the first download with
a clear message when offline; tests/test_browser_byo.py runs it with MODELS = 'demo' on a
dataset it writes.
"""

import sys
from pathlib import Path

import nbformat

OUT = Path(__file__).resolve().parents[1] / "notebooks"


def notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        maker = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(maker(source.strip("\n")))
    return nb


LOAD_DEMO = (
    "code",
    """
from failwidgets.demo import load

demo = load()          # the world, the classifier's predictions, the demo models (lazily)
evalset = demo.evalset
demo
""",
)

NEXT_STEPS = (
    "md",
    """
Next: the Explorer composes this view with the other methods' (`00_quickstart.ipynb`); the
other notebooks explain one method each.
""",
)

# ---------------------------------------------------------------------------- 00 quickstart
QUICKSTART = [
    (
        "md",
        """
# failwidgets quickstart

The demo world: procedurally drawn objects on procedural backgrounds, with **planted failure
modes** whose right answers are known, and a small CNN classifier trained on its biased train
split. Everything is generated or loaded from the package: no download. This notebook runs top
to bottom in under a minute on two CPU cores.
""",
    ),
    LOAD_DEMO,
    (
        "md",
        "The planted failures (the ground truth) and the classifier's accuracy per class on the test split:",
    ),
    (
        "code",
        """
import pandas as pd

test = evalset.split_indices("test")
pd.DataFrame([{"failure": f.name, "kind": f.kind, "class": f.class_name, "description": f.description}
              for f in demo.failures])
""",
    ),
    ("code", "evalset.accuracy_per_class(test).round(3).to_frame().T"),
    (
        "md",
        """
## The Explorer: five methods, one workspace

`Explorer.from_demo` fits the methods on the demo world (features and embeddings are computed
in bulk and cached, so the second run is faster) and links their views:

- **one class selector and one threshold panel** drive every view: δ and τ for Barlow's
  failure trees, a, s and b₂…b₄ for PRIME's tag lattice, δ for CES, K for the failure directions;
- **tabs** hold the views; **one image grid** below them shows whatever you select: a lattice
  node, a tree leaf, a direction's hardest images or a caption, a concept's examples;
- **Explain with CES** sends the images selected in the grid (click, shift-click, ctrl-click),
  or else the selected failure mode, to the concept map, which explains them by concepts;
- the **All failure modes** tab lists every method's failure modes (sortable: click a header;
  click a row to see its images) and, for the selected class, how much the member sets of
  different methods overlap (Jaccard).

The Explorer opens on the class with the planted conjunction (three attributes that fail only
together). Try: in the threshold panel raise PRIME's **a** to 0.5 and only the planted triple is
left in *Lattice · PRIME*; click it, then *Explain with CES*; then move Barlow's **δ** and watch
the tree's failure leaves pass or dim.
""",
    ),
    (
        "code",
        """
from failwidgets import Explorer

explorer = Explorer.from_demo(demo)
explorer
""",
    ),
    (
        "md",
        "Everything the widget shows is readable from Python. The failure modes of every method, strongest drop first (`heldout_drop`: the same rule on held-out data):",
    ),
    (
        "code",
        """
modes = explorer.failure_modes()
modes.drop(columns="members").head(12)
""",
    ),
    (
        "md",
        "How much the methods agree on the selected class (Jaccard overlap of the member sets, on the test images):",
    ),
    ("code", "explorer.agreement().round(2)"),
    ("md", "One call exports the table to CSV or Parquet; `Explorer.import_modes` reads it back:"),
    (
        "code",
        """
path = explorer.export("failure_modes.csv")
Explorer.import_modes(path).drop(columns="members").head(3)
""",
    ),
    (
        "md",
        """
Where to go next: one notebook per method (`10_barlow` … `50_defuse`) explains its idea and its
controls; `90_bring_your_own_model` runs the same tools on CIFAR-10 with pretrained models.
""",
    ),
]

# ---------------------------------------------------------------------------- 10 Barlow
BARLOW = [
    (
        "md",
        """
# Barlow: failure trees on robust features

Barlow (Singla et al., CVPR 2021) explains where a model fails inside one group of images, e.g.
all images labelled *arrow* (its false negatives) or all images predicted *arrow* (its false
positives). Every image is described by the penultimate-layer features of an adversarially
robust network, whose features tend to be human-readable (a shaft, a stripe pattern, a
background texture). Barlow marks each image of the group as an error or not, keeps the *k*
features with the highest mutual information with that error label, and fits a shallow decision
tree (depth 1 to 3, entropy criterion, errors weighted up to balance the classes) that predicts
the errors from those features.

Each node of the tree is a rule such as *feature 57 ≤ 0.31*. Its **error rate** ER is the share
of its images the model gets wrong, its **error coverage** EC the share of all the group's
errors that fall in it, and its importance IV = ER·EC. The group's base error rate is BER; a leaf
is a **failure mode** when ER > BER + δ and EC > τ (the paper: δ = 0.1, τ = 0.2). One demo
class is planted to fail when its distinguishing part is missing: the robust features see it.

**Controls** (TreeView): class selector, label/prediction grouping, sliders for δ and τ (no
refit: instant) and for the depth and *k* (refit). Clicking a node shows its images (errors
first) and the split feature's top images, heatmaps and feature attack.
""",
    ),
    LOAD_DEMO,
    (
        "md",
        "Features: the global-average-pooled penultimate layer of the demo's robust CNN (trained with L2 PGD), for every image.",
    ),
    (
        "code",
        """
import numpy as np
import torch

robust = demo.robust.eval()
with torch.inference_mode():
    features = np.concatenate([
        robust.forward_features(torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255).numpy()
        for batch in np.array_split(demo.world.images, 40)
    ])
features.shape
""",
    ),
    (
        "md",
        "One tree for the validation and test images labelled as the class with the planted missing part (label grouping: its false negatives):",
    ),
    (
        "code",
        """
from failwidgets.methods.barlow import Barlow

part = next(f for f in demo.failures if f.kind == "missing_part")
print(part.description)
rows = np.flatnonzero(evalset.split != "train")
group = rows[evalset.labels[rows] == evalset.class_index(part.class_name)]
result = Barlow(k=20, depth=2).fit(features, evalset, group=group)
print(f"BER {result.base_error_rate:.3f}  ALER {result.aler:.3f}")
result.leaves(delta=0.1, tau=0.2)[["rule", "size", "errors", "error_rate", "error_coverage", "importance", "passes"]]
""",
    ),
    (
        "md",
        "The most important leaf, in words, and how many of its images are the planted shaft-less arrows:",
    ),
    (
        "code",
        """
top = result.top_leaf
members = result.members(top)
print(result.describe(top, group_name=f"the {part.class_name} images"))
planted = part.members(demo.world.attributes)
print(f"{planted[members].mean():.0%} of the leaf's images lack the part "
      f"(the whole group: {planted[group].mean():.0%})")
""",
    ),
    (
        "md",
        "The tree view: move δ or τ and watch leaves pass or fail; click a node to see its images below.",
    ),
    (
        "code",
        """
from failwidgets.widgets.tree import TreeView

view = TreeView(evalset, features, model=robust, class_name=part.class_name)
view
""",
    ),
    (
        "md",
        "The paper's automatic evaluation: one tree per class and grouping; the share of classes with a valid leaf, and ALER − BER per class.",
    ),
    (
        "code",
        """
survey = Barlow(k=20, depth=1).survey(features, evalset, groupings=("label", "prediction"))
survey.summary
""",
    ),
    NEXT_STEPS,
]

# ---------------------------------------------------------------------------- 20 PRIME
PRIME = [
    (
        "md",
        """
# PRIME: minimal tag combinations as failure modes

PRIME (Rezaei et al., 2024) describes every image by a set of human-readable **tags** (from a
tagging model, or from metadata as here) and looks, class by class, for the tag combinations
*S* on which the model's accuracy drops. Many combinations look bad only because they contain a
bad smaller one, so PRIME reports a combination only when it is **minimal**: removing any one of
its tags raises the accuracy clearly. The search is exhaustive over all tag sets up to size *l*
(default 4) with enough support, so the answer is exact, and every failure mode reads as a
caption: *a photo of a square, red, stripes, on sand*.

For class *c* with accuracy A_c, a tag set *S* with images I_S and accuracy A_S is a failure
mode when |I_S| ≥ **s** (support), A_S ≤ A_c − **a** (the drop) and, for every tag t in S,
A_{S∖t} ≥ A_S + **b_|S|** (necessity; the paper: b₂ = 10 %, b₃ = 5 %, b₄ = 2.5 %). One demo
class is planted to fail on three attributes together (a colour, a texture and a background)
while every pair of the three is harmless: exactly the kind of conjunction PRIME's minimality is
made for.

**Controls** (LatticeView): class selector, sliders for a, s, b₂, b₃, b₄ (they only re-filter
the precomputed candidates: instant) and l (a larger l searches again), a tag search box. The
lattice is a Hasse diagram: levels by set size, colour by accuracy drop, size by support;
failure modes are outlined with their necessity edges. Clicking a node shows its images.
""",
    ),
    LOAD_DEMO,
    (
        "md",
        "Tags from the world's metadata, named `column=value` for every column: one per value of colour, texture and background, and `=True` / `=False` for the booleans occluder, distractor and has_part (so the missing part, `has_part=False`, is a tag too). The search runs on the test split once; `result.table(...)` then filters its candidates for any thresholds `a`, `s`, `b2`, `b3`, `b4` (as a DataFrame), and `result.failure_modes(...)`, with the same arguments, gives the same modes as `FailureMode` objects with a rule that re-applies them to new images:",
    ),
    (
        "code",
        """
from failwidgets.features.tags import tags_from_metadata
from failwidgets.methods.prime import search

tags = tags_from_metadata(evalset, columns=["colour", "texture", "background", "occluder", "distractor", "has_part"])
test = evalset.split_indices("test")
result = search(tags, evalset.labels, evalset.correct, class_names=evalset.class_names,
                max_size=4, min_support=30, indices=test)
print(f"{result.n_candidates} candidate tag sets searched")
result.table(a=0.5)[["class", "tags", "n_images", "accuracy", "drop", "min_gain"]]
""",
    ),
    (
        "md",
        "The lattice of the class with the planted conjunction: at a = 0.5 only the planted triple is a failure mode; lower a to 0.3 and its pairs appear too (each pair holds mostly triple images, so it drops about 0.6 times as much, and removing one of its tags still helps).",
    ),
    (
        "code",
        """
from failwidgets.widgets.lattice import LatticeView

conjunction = next(f for f in demo.failures if f.kind == "conjunction")
print(conjunction.description)
view = LatticeView(evalset, result=result, a=0.5, class_name=conjunction.class_name)
view
""",
    ),
    (
        "code",
        """
triple = tuple(f"{column}={value}" for column, value in conjunction.attributes.items())
view.select(triple)   # as a click on its node does: its images fill the grid, errors first
""",
    ),
    (
        "md",
        "Does a failure mode hold on unseen data? Re-apply each tag set to the validation split (train drop vs held-out drop, the paper's Table 4):",
    ),
    (
        "code",
        """
report = result.generalization(evalset.split_indices("val"), modes=result.table(a=0.3))
print(f"Pearson {report.pearson:.2f}, Spearman {report.spearman:.2f} over {report.n_modes} modes")
report.table[["class", "tags", "drop", "heldout_n_images", "heldout_drop"]]
""",
    ),
    NEXT_STEPS,
]

# ---------------------------------------------------------------------------- 30 CES
CES = [
    (
        "md",
        """
# CES: concept explanations of mistakes

Conceptual explanation scores (Abid et al., 2022) ask which human concept, added to or removed
from an image, would most change the model's answer. The classifier is cut at a bottleneck
layer into b(x) and t(h). For each concept (*background=grass*, *texture=stripes*, …) a linear
SVM separates the bottleneck activations of images with and without it; its weight vector is the
concept's direction (a CAV). The score of a concept for a misclassified image is how much the
probability of the true label rises when the activations take a large step δ along that
direction: CES_c = p_y(t(b(x) + δ·v_c)) − p_y(t(b(x))), summed over the explained images and
scaled to [−1, 1].

A high positive score means *adding this concept would fix the mistake*: the model missed
something it relies on. One demo class was seen almost only on one background during training,
so its test mistakes (that class on other backgrounds) are explained by that background.

**Controls** (ConceptMapView): the class whose mistakes are explained, the class whose
probability is explained (default: each image's true label), the step δ (log slider), the
direction (add or remove the concept), the map's embedding (PCA or t-SNE of the CAVs). Points
are concepts, coloured by the sign of their score and sized by its size; click one to see its
positive examples. Images selected in the grid become the explained set.
""",
    ),
    LOAD_DEMO,
    (
        "md",
        "The concept bank: one CAV per tag value, learned on the train split at the classifier's bottleneck (the output of its `features` block); concepts whose SVM validates below 70 % are dropped.",
    ),
    (
        "code",
        """
from failwidgets.features.split import split_model
from failwidgets.methods.ces import ConceptExplainer, ConceptSet, learn_concept_bank

train = evalset.split_indices("train")
concepts = ConceptSet.from_evalset(evalset, ["background", "texture", "colour", "occluder", "distractor"],
                                   indices=train)
split = split_model(demo.classifier, "features", input_size=(3, 64, 64))
bank = learn_concept_bank(split, concepts)
explainer = ConceptExplainer(split, bank)
bank.to_frame().sort_values("val_accuracy").head()
""",
    ),
    ("md", "The test mistakes of the class with the planted spurious background, explained:"),
    (
        "code",
        """
from failwidgets.widgets.concept_map import ConceptMapView

spurious = next(f for f in demo.failures if f.kind == "spurious_background")
print(spurious.description)
view = ConceptMapView(evalset, explainer, class_name=spurious.class_name)
view
""",
    ),
    (
        "code",
        """
scores = view.wait()
scores.to_frame().head(5)
""",
    ),
    (
        "md",
        "The same for one image, and the *conceptual counterfactual* variant (one weight per concept, optimised to flip the prediction):",
    ),
    (
        "code",
        """
first = view.explained[:1]
one = explainer.explain_evalset(evalset, first)
print("top concepts for image", int(first[0]), one.top_positive(3))
activations = explainer.evalset_activations(evalset, first)
explainer.counterfactual(activations, evalset.labels[first]).to_frame().head(5)
""",
    ),
    NEXT_STEPS,
]

# ---------------------------------------------------------------------------- 40 directions
DIRECTIONS = [
    (
        "md",
        """
# Failure directions in CLIP space

Jain et al. (2023) distil a model's failures into one **direction** per class in the embedding
space of CLIP. For each class, a linear SVM learns to tell the validation images the model gets
right from those it gets wrong, on whitened and normalised CLIP image embeddings. If it can
(its cross-validated balanced accuracy, the class's *failure strength*, is well above 0.5), the
mistakes are not random: they share something CLIP sees. The SVM's decision value ranks every
image, validation or test: the most negative ones are the predicted hardest.

Because CLIP embeds text in the same space, the direction can be put in words: among captions
*a photo of a {adjective} {class} {preposition}*, the ones whose embedding (minus that of *a
photo of a {class}*) points furthest along the negative direction describe the failure; the most
positive describe where the model is right. Clicking a caption checks it: its nearest test
images and the model's accuracy on them. One demo class was trained almost only on one
background; its direction should point to that class on the other backgrounds.

**Controls** (DirectionsView): a bar chart of every class's failure strength (click a bar to
choose a class), a class selector and a K slider (images per strip and per caption check);
strips of the K most negative and most positive test images; the hard and easy captions.
""",
    ),
    LOAD_DEMO,
    (
        "md",
        "CLIP embeddings of every image with the demo CLIP (a small model built from open_clip's classes and trained on captions of the world), then one SVM per class on the validation split:",
    ),
    (
        "code",
        """
from failwidgets.methods.caption_words import NATURAL_BACKGROUNDS, CaptionWords
from failwidgets.methods.directions import find_failure_directions

encoder = demo.clip_encoder
result = find_failure_directions(evalset, encoder=encoder,
                                 caption_words=CaptionWords().with_extra(prepositions=NATURAL_BACKGROUNDS))
result.summary
""",
    ),
    (
        "code",
        """
from failwidgets.widgets.directions import DirectionsView

spurious = next(f for f in demo.failures if f.kind == "spurious_background")
print(spurious.description)
view = DirectionsView(evalset, result, k=50, class_name=spurious.class_name)
view
""",
    ),
    (
        "md",
        "The 50 most negative test images of that class, and how many of them are the planted minority (off the training background):",
    ),
    (
        "code",
        """
hard = result.most_aligned(spurious.class_name, k=50, split="test")
minority = spurious.members(demo.world.attributes)
test = evalset.split_indices("test")
in_class = test[evalset.labels[test] == evalset.class_index(spurious.class_name)]
print(f"{minority[hard.index].mean():.0%} of the 50 hardest are the planted minority "
      f"(all its test images: {minority[in_class].mean():.0%})")
result.captions(spurious.class_name, side="hard", k=5)
""",
    ),
    (
        "md",
        "Check any caption, listed or not: its 50 nearest test images of the class and the accuracy on them.",
    ),
    (
        "code",
        """
name = spurious.class_name
for caption in [f"a photo of a {name} on grass", f"a photo of a {name} on sand"]:
    sub = result.caption_subpopulation(caption, cls=name, k=50, split="test")
    print(f"{caption!r}: {sub.accuracy:.0%} correct")
""",
    ),
    NEXT_STEPS,
]


# ---------------------------------------------------------------------------- 50 Defuse
DEFUSE = [
    (
        "md",
        """
# Defuse: failure scenarios from a VAE's latent space

Defuse (Slack et al.) looks for failures the evaluation set does not contain yet. A β-VAE
learns a smooth latent space of the images; around the code of each image it draws small random
shifts (Beta(a, b) noise per dimension, always a positive shift), decodes them and keeps the
shifted images the classifier gets wrong: *unrestricted adversarial examples*, realistic images
that change what the model predicts. Most of them are not isolated accidents: they cluster in
latent space, and a Dirichlet-process Gaussian mixture over the failing codes distils them into
a handful of **failure scenarios**, each a Gaussian you can sample new failing images from.

A person then reviews each scenario by sampling it (spread **τ**: z ~ N(mean, τ·cov)), marks
whether it is a real failure and gives the correct label. The labelled scenarios **correct** the
model: a copy is finetuned on the training data plus λ times the scenario samples with their
correct labels, over a sweep of λ; the table compares test accuracy and held-out scenario
accuracy before and after.

**Controls** (arguments here): the noise draws per image Q and the Beta parameters a, b
(identification), the mixture's weight threshold (distillation), τ (review), λ (correction).
""",
    ),
    LOAD_DEMO,
    (
        "md",
        "Identification and distillation on 300 test images (20 noise draws each, at most 5 failing codes per image):",
    ),
    (
        "code",
        """
import numpy as np
from failwidgets.methods.defuse import Defuse

rows = np.sort(np.random.default_rng(0).choice(evalset.split_indices("test"), 300, replace=False))
defuse = Defuse(demo.vae, demo.classifier, n_samples=20, max_per_image=5, progress=False)
defuse.fit(evalset.images_at(rows), evalset.labels[rows])
print(defuse.identification_.message)
scenarios = defuse.scenarios_
scenarios.to_frame()
""",
    ),
    (
        "md",
        "Review the heaviest scenario: 24 decoded samples at τ = 0.1, with the classifier's predictions (the label shown is the scenario's majority original label):",
    ),
    (
        "code",
        """
from failwidgets import EvalSet, ImageGrid

scenario = scenarios[scenarios.ids[0]]
label = scenario.majority_label
samples = defuse.sample(scenario.id, n=24, tau=0.1)
print(f"{samples.error_rate(label):.0%} of the samples are not predicted as {evalset.class_names[label]}")
review = EvalSet.from_arrays(samples.images, np.full(len(samples.images), label), samples.predictions,
                             evalset.class_names)
ImageGrid(review, page_size=24, thumb_size=64, title=f"scenario {scenario.id}")
""",
    ),
    (
        "md",
        "Label it: the labels live in a JSON file that is rewritten (atomically) at every change, so they survive a kernel restart:",
    ),
    (
        "code",
        """
from failwidgets.methods.scenario_labels import ScenarioLabels

# one file per distillation: its fingerprint names the scenario set the labels belong to
labels = ScenarioLabels(f"defuse_labels_{scenarios.fingerprint[:8]}.json", n_classes=len(evalset.class_names),
                        scenario_ids=scenarios.ids, scenario_set=scenarios.fingerprint)
labels.set(scenario.id, is_failure=samples.error_rate(label) > 0.5, correct_label=label)
labels.to_frame()
""",
    ),
    (
        "md",
        """
The same review in the **ScenarioView** widget: one row per scenario with its weight, the
classifier's predictions on decoded samples and a strip of them; the τ slider resamples every
strip. Mark each scenario *failure* / *not a failure* and pick its correct label: every click is
written to the JSON file at once, and the view reloads it when it opens again on the same file
(after a kernel restart, too). Clicking a row shows the scenario's source images in the grid;
**Correct classifier** runs the correction below with the labelled scenarios.
""",
    ),
    (
        "code",
        """
from failwidgets.widgets import ScenarioView

view = ScenarioView(evalset, demo.classifier, demo.vae, defuse=defuse, indices=rows,
                    labels_path=labels.path)
view
""",
    ),
    (
        "md",
        """
Correction finetunes one copy of the classifier per λ on the training images plus the labelled
scenarios' samples, and reports test accuracy and held-out scenario accuracy before and after
(minutes on a CPU, so not run here):

```python
from failwidgets.methods.defuse import correct_classifier

train, test = evalset.split_indices("train"), evalset.split_indices("test")
correction = correct_classifier(
    demo.classifier, demo.vae, scenarios, labels,
    train_images=evalset.images_at(train), train_labels=evalset.labels[train],
    test_images=evalset.images_at(test), test_labels=evalset.labels[test],
    lambdas=(0.01, 0.1, 1.0, 10.0),
)
correction.table()
```
""",
    ),
    NEXT_STEPS,
]

# ---------------------------------------------------------------------------- 90 BYOM
BYOM = [
    (
        "md",
        """
# Bring your own model and data

Your classifier and your images, in the Explorer: the cell under **2.** is all it takes (four
lines). **1.** loads example assets. With the defaults it downloads CIFAR-10 from the Hugging
Face hub, open_clip's ViT-B-32 (the classifier under inspection is CLIP itself, zero-shot, so
nothing needs training) and the robustness library's L2-robust ResNet-50 for Barlow. Offline, each
download stops with a message that says which local file to provide instead.

Your own assets go where **1.** puts them:
- `dataset`: a Hugging Face `datasets.Dataset` with an image column and a `ClassLabel` label
  column; other scalar columns become metadata (tags for PRIME, concepts for CES). A pandas
  DataFrame works too: `EvalSet.from_dataframe(df, image="path", label="label",
  prediction="pred", root=...)`.
- `classifier`: any torch module from float images in [0, 1] to logits.
- `clip` (failure directions and zero-shot tags) and `robust` (Barlow's features): optional;
  a method whose assets are missing says what to pass, in one line.
""",
    ),
    (
        "code",
        """
# Parameters
DATASET = "uoft-cs/cifar10"  # a hub dataset, or a folder written by Dataset.save_to_disk
N_IMAGES = 2000  # images of its test split to inspect
MODELS = "pretrained"  # "pretrained" (downloads) or "demo" (the package's demo models, offline)
""",
    ),
    ("md", "## 1. Example assets"),
    (
        "code",
        '''
from pathlib import Path

import datasets
import numpy as np
import torch


def download_or_explain(what, fetch, instead):
    """Run ``fetch()``; offline, stop with a message that says what to provide instead."""
    try:
        return fetch()
    except Exception as error:  # no network, blocked host, ...
        raise RuntimeError(
            f"Could not download {what} ({type(error).__name__}: {error}). Offline: {instead}"
        ) from None


if Path(DATASET).is_dir():
    dataset = datasets.load_from_disk(DATASET)
else:
    dataset = download_or_explain(
        DATASET,
        lambda: datasets.load_dataset(DATASET, split=f"test[:{N_IMAGES}]"),
        "save your dataset with Dataset.save_to_disk(folder) and set DATASET = folder.",
    )
label_column = next(c for c, f in dataset.features.items() if isinstance(f, datasets.ClassLabel))
class_names = dataset.features[label_column].names

if MODELS == "pretrained":
    from failwidgets.models import ZeroShotClassifier, load_open_clip, load_robust_resnet50

    clip = download_or_explain(
        "open_clip ViT-B-32",
        lambda: load_open_clip("ViT-B-32", pretrained="laion2b_s34b_b79k"),
        "pass checkpoint_path= (a local ViT-B-32 weights file) to load_open_clip.",
    )
    classifier = ZeroShotClassifier(clip[0], clip[2], class_names)
    checkpoint = Path("imagenet_l2_3_0.pt")
    if not checkpoint.is_file():
        download_or_explain(
            "the robust ResNet-50",
            lambda: torch.hub.download_url_to_file(
                "https://huggingface.co/madrylab/robust-imagenet-models/resolve/main/"
                "imagenet_l2_3_0.pt",
                str(checkpoint),
            ),
            f"save imagenet_l2_3_0.pt (github.com/MadryLab/robustness) as {checkpoint}.",
        )
    robust = load_robust_resnet50(checkpoint)
else:  # the package's small demo models (trained on its planted-failure world)
    from failwidgets.demo.classifier import load_classifier
    from failwidgets.demo.clip_model import load_clip
    from failwidgets.demo.robust import load_robust

    classifier, clip, robust = load_classifier(), load_clip(), load_robust()
dataset
''',
    ),
    ("md", "## 2. Your model and data in the Explorer"),
    (
        "code",
        """
from failwidgets import EvalSet, Explorer

split = np.where(np.arange(len(dataset)) % 2 == 0, "val", "test")  # search on val, check on test
evalset = EvalSet.from_model(classifier, dataset, split=split)
explorer = Explorer.from_evalset(
    evalset, classifier=classifier, clip=clip, robust_model=robust, split="val", heldout_split="test"
)
explorer
""",
    ),
    (
        "md",
        """
Every method analyses the *val* rows only, and each failure mode is re-applied on *test* for its
held-out drop. Precomputed arrays can stand in for the models (`features=`, `embeddings=`,
`tags=`), and your own fitted results for everything (`results=[prime_result, ...]`).
""",
    ),
    ("code", "explorer.failure_modes().drop(columns='members').head(10)"),
]

NOTEBOOKS = {
    "00_quickstart.ipynb": QUICKSTART,
    "10_barlow.ipynb": BARLOW,
    "20_prime.ipynb": PRIME,
    "30_ces.ipynb": CES,
    "40_directions.ipynb": DIRECTIONS,
    "50_defuse.ipynb": DEFUSE,
    "90_bring_your_own_model.ipynb": BYOM,
}

if __name__ == "__main__":
    prefixes = sys.argv[1:]
    for name, cells in NOTEBOOKS.items():
        if prefixes and not name.startswith(tuple(prefixes)):
            continue
        nbformat.write(notebook(cells), OUT / name)
        print("wrote", OUT / name)
