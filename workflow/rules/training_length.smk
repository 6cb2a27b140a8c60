# Attribution against GAN training length: the training-length experiment on its GANs'
# snapshots (ours and every baseline with an accuracy), as a table and one figure per data set.


rule training_length_table:
    input:
        training_length_metrics(),
    output:
        "results/training_length.csv",
    params:
        images_per_run=images_per_run() if training_length_experiments() else "",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/tables/training_length.log",
    shell:
        "ganprint length-table --metrics {input} --images-per-run {params.images_per_run} --output {output} > {log} 2>&1"


rule figure_training_length:
    input:
        "results/training_length.csv",
    output:
        "results/figures/training_length_{dataset}.png",
    conda:
        "../../envs/ganprint.yaml"
    log:
        "results/logs/figures/training_length_{dataset}.log",
    shell:
        "ganprint figure-length --table {input} --dataset {wildcards.dataset}"
        " --title 'Attribution against GAN training length, {wildcards.dataset}' --output {output} 2> {log}"
