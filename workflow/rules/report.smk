# Tables and figures assembled from the evaluations of every data set.


rule table1:
    input:
        experiment_metrics(["table1"]),
    output:
        "results/table1.csv",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/table1.log",
    shell:
        "ganprint table --metrics {input} --per-class --output {output} > {log} 2>&1"


rule table2:
    input:
        experiment_metrics(["table2"], datasets=[first_dataset()]),
    output:
        "results/table2.csv",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/table2.log",
    shell:
        "ganprint table --metrics {input} --per-class --output {output} > {log} 2>&1"


rule table3:
    input:
        experiment_metrics(["table3"]),
    output:
        "results/table3.csv",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/table3.log",
    shell:
        "ganprint table --metrics {input} --per-class --output {output} > {log} 2>&1"


rule sanity_check:
    input:
        experiment_metrics(["sanity_same_seed", "sanity_diff_seed"]),
    output:
        "results/sanity_check.csv",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/sanity_check.log",
    shell:
        "ganprint table --metrics {input} --output {output} > {log} 2>&1"


rule figure_samples:
    input:
        experiment_images("test", experiment="table1"),
    output:
        "results/figures/samples_{dataset}.png",
    params:
        labels=lambda wc: " ".join(experiment_sources("table1")),
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/figures/samples_{dataset}.log",
    shell:
        "ganprint figure-samples --images {input} --labels {params.labels} --title 'Table 1 sources, {wildcards.dataset}'"
        " --output {output} 2> {log}"
