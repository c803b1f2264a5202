# Submissions and inference batches arrive with the prediction work.
