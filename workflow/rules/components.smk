# Component analysis (Sec. 3.2): which frequency bands and patch sizes carry the fingerprint.


rule component_table:
    input:
        lambda wc: component_inputs(COMPONENT_TABLES[wc.number])[0],
    output:
        "<results>/table{number}.csv",
    params:
        kind=lambda wc: COMPONENT_TABLES[wc.number],
        networks=lambda wc: component_inputs(COMPONENT_TABLES[wc.number])[1],
    wildcard_constraints:
        number="|".join(COMPONENT_TABLES),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/tables/table{number}.log",
    shell:
        "python -m ganprint component-table --kind {params.kind} --metrics {input:q} --networks {params.networks:q}"
        " --output {output:q} > {log:q} 2>&1"


rule figure_components:
    input:
        lambda wc: f"<results>/table{TABLE_OF_COMPONENTS[wc.kind]}.csv",
    output:
        report("<results>/figures/components_{kind}.png", caption="../report/figure_components.rst", category="Figures"),
    params:
        title=lambda wc: COMPONENT_FIGURE_TITLES[wc.kind],
    wildcard_constraints:
        kind="|".join(TABLE_OF_COMPONENTS),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/figures/components_{kind}.log",
    shell:
        "python -m ganprint figure-components --table {input:q} --kind {wildcards.kind} --title {params.title:q}"
        " --output {output:q} 2> {log:q}"
