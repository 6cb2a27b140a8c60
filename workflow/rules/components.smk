# Component analysis (Sec. 3.2): which frequency bands and patch sizes carry the fingerprint.


rule table4:
    input:
        component_inputs("bands")[0],
    output:
        "results/table4.csv",
    params:
        networks=" ".join(component_inputs("bands")[1]),
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/table4.log",
    shell:
        "ganprint component-table --kind bands --metrics {input} --networks {params.networks} --output {output} > {log} 2>&1"


rule table5:
    input:
        component_inputs("patches")[0],
    output:
        "results/table5.csv",
    params:
        networks=" ".join(component_inputs("patches")[1]),
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/table5.log",
    shell:
        "ganprint component-table --kind patches --metrics {input} --networks {params.networks} --output {output} > {log} 2>&1"


rule figure_components:
    input:
        lambda wc: {"bands": "results/table4.csv", "patches": "results/table5.csv"}[wc.kind],
    output:
        "results/figures/components_{kind}.png",
    wildcard_constraints:
        kind="bands|patches",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/figures/components_{kind}.log",
    shell:
        "ganprint figure-components --table {input} --kind {wildcards.kind}"
        " --title 'Component analysis, {wildcards.kind}' --output {output} 2> {log}"
