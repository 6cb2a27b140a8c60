# Tables and figures assembled from the evaluations of every data set, and the HTML page of
# each table that `snakemake --report` shows.


rule experiment_table:
    input:
        metrics=lambda wc: table_metrics(wc.table),
        selections=[],
    output:
        "<results>/{table}.csv",
    params:
        per_class=lambda wc: "--per-class" if wc.table in PER_SOURCE_TABLES else "",
    wildcard_constraints:
        table="|".join(TABLE_EXPERIMENTS),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/tables/{table}.log",
    shell:
        "python -m ganprint table --metrics {input.metrics:q} {params.per_class} --selections {input.selections:q}"
        " --output {output:q} > {log:q} 2>&1"


rule figure_samples:
    input:
        experiment_images("test", experiment="table1"),
    output:
        report("<results>/figures/samples_{dataset}.png", caption="../report/figure_samples.rst", category="Figures"),
    params:
        labels=lambda wc: experiment_sources("table1"),
        title=lambda wc: f"Table 1 sources, {wc.dataset}",
        per_source=8,
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/figures/samples_{dataset}.log",
    shell:
        "python -m ganprint figure-samples --images {input:q} --labels {params.labels:q} --per-source {params.per_source}"
        " --title {params.title:q} --output {output:q} 2> {log:q}"


use rule figure_samples as figure_diffusion_samples with:
    input:
        experiment_images("test", experiment=DIFFUSION_EXPERIMENT),
    output:
        report("<results>/figures/diffusion_samples_{dataset}.png", caption="../report/figure_diffusion_samples.rst", category="Figures"),
    params:
        labels=lambda wc: experiment_sources(DIFFUSION_EXPERIMENT),
        title=lambda wc: f"Real images, GANs and diffusion models, {wc.dataset}",
        per_source=8,
    log:
        "<results>/logs/figures/diffusion_samples_{dataset}.log",


rule table_page:
    input:
        "<results>/{table}.csv",
    output:
        report("<results>/report/{table}.html", caption="../report/table.rst", category="Tables", labels={"table": "{table}"}),
    params:
        title=lambda wc: TABLE_TITLES[wc.table],
    wildcard_constraints:
        table="|".join(TABLE_TITLES),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/report/{table}.log",
    shell:
        "python -m ganprint table-page --table {input:q} --title {params.title:q} --output {output:q} 2> {log:q}"
