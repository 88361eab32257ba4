"""The model variants the study compares, and the controls each pruned variant is judged against: one
registry that the comparison, the Grad-CAM stage and the tests read. Stages still take every path from
their dvc.yaml command; tests/test_deps.py checks those commands and files against this registry."""

# name: its checkpoint; its evaluation (reports/eval/<evaluation>.json); its Grad-CAM column title; its short
# name (the key of its test accuracy in reports/accuracy.json, a column of `dvc exp show`); whether pruning made
# it; the same-budget controls its accuracy is compared with; for a control, the column of that comparison
# (vs_<column>)
VARIANTS = {
    "original": {"checkpoint": "models/vgg11_cifar10_finetuned.pth", "evaluation": "finetune",
                 "title": "original", "short": "orig", "pruned": False, "controls": []},
    "unstructured": {"checkpoint": "models/unstructured_pruned_vgg11.pth", "evaluation": "unstructured",
                     "title": "unstructured", "short": "unstr", "pruned": True,
                     "controls": ["dense_extra", "unstructured_random"]},
    "structured": {"checkpoint": "models/vgg11_cifar10_structured_pruned.pth", "evaluation": "structured_pruned",
                   "title": "structured, no fine-tune", "short": "struct", "pruned": True, "controls": []},
    "structured_finetuned": {"checkpoint": "models/vgg11_cifar10_structured_pruned_finetuned.pth",
                             "evaluation": "structured_finetuned", "title": "structured + fine-tune",
                             "short": "struct_ft", "pruned": True,
                             "controls": ["dense_extra", "scratch", "structured_random"]},
    "dense_extra": {"checkpoint": "models/vgg11_cifar10_dense_extra.pth", "evaluation": "dense_extra",
                    "title": "dense_extra (control)", "short": "dense", "pruned": False, "controls": [],
                    "column": "dense_extra"},
    "scratch": {"checkpoint": "models/vgg11_cifar10_structured_scratch.pth", "evaluation": "scratch",
                "title": "scratch (control)", "short": "scratch", "pruned": False, "controls": [],
                "column": "scratch"},
    "unstructured_random": {"checkpoint": "models/unstructured_random_vgg11.pth", "evaluation": "unstructured_random",
                            "title": "random weights (control)", "short": "unstr_rand", "pruned": True,
                            "controls": [], "column": "random"},
    "structured_random": {"checkpoint": "models/vgg11_cifar10_structured_random.pth",
                          "evaluation": "structured_random", "title": "random filters (control)",
                          "short": "struct_rand", "pruned": True, "controls": [], "column": "random"},
}
