"""OMIM annotations of the same disease (model_export/rare_omim.py): found only where gene and name agree."""

from __future__ import annotations

from model_export.rare_index import PHENOTYPIC_ABNORMALITY_INT, hpo_data_dir, parse_obo
from model_export.rare_omim import disease_genes, match_omim, read_omim_annotations


def test_orphanet_diseases_take_the_omim_entry_of_the_same_gene_and_name() -> None:
    data = hpo_data_dir()
    onto = parse_obo(data / "hp.obo")
    canonical = {t: t for t, term in onto.terms.items() if not term.obsolete}
    omim = read_omim_annotations(data / "phenotype.hpoa", canonical, PHENOTYPIC_ABNORMALITY_INT)
    genes = disease_genes(data / "phenotype_to_genes.txt")
    names = {96: "Ataxia with vitamin E deficiency", 2746: "Opsismodysplasia",
             # A made-up disease on the same gene (TTPA) under another name: no match.
             999999: "Acromicric dysplasia with something else entirely"}
    genes["ORPHA:999999"] = {"TTPA"}
    found = match_omim(names, omim, genes)
    assert found[96] == "OMIM:277460"  # TTPA; "Ataxia with isolated vitamin E deficiency"
    assert found[2746] == "OMIM:258480"  # INPPL1
    assert 999999 not in found  # the gene agrees, the name does not
    assert len(set(found.values())) == len(found)
