# Tables assembled from the evaluations of every data set.


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
