# Open-set attribution: the open_set experiment's classifier trained without each of its
# sources in turn, evaluated on the held-out source's test images at the threshold
# calibrated on the known sources' validation images (train_attribution, evaluate_attribution).


rule open_set_table:
    input:
        lambda wc: open_set_metrics(),
    output:
        "<results>/open_set.csv",
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/tables/open_set.log",
    shell:
        "python -m ganprint open-set-table --metrics {input:q} --output {output:q} > {log:q} 2>&1"
