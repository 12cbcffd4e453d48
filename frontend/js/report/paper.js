// What the course report (IFT6135 assignment 2: ../shared/seed/report.md, beside the repository) says about each figure: its caption, its
// statements and its numbers. Our numbers are set beside these on the report page.

export const REPORT_TITLE = "Assignment 2: Convolutional networks (IFT6135) — Viviano, Guymont, Mehdizadeh";

export const PARAMS = { shallow: 5274882, "shallow-fat": 9539074, deep: 1373986 };
export const BLOCK_FILTERS = { shallow: "16-32-64", "shallow-fat": "32-64-128", deep: "32-64-128-64-32" };

export const PAPER = {
  fig1: {
    title: "Figure 1. Early stopping and weight decay",
    caption:
      "Test error at the end of each epoch of training for MLP models with and without regularization. 2 hidden layers of 800 ReLU units, SGD with learning rate 0.02, minibatch 64, Glorot init; both models trained for 100 epochs.",
    statements: [
      "Using both L2 regularization and early stopping is not optimal: they can be seen as equivalent under certain conditions.",
      "In Figure 1 the model without weight decay performs better.",
    ],
    settings: { epochs: 100 },
  },
  fig2: {
    title: "Figure 2. L2 norm of the parameters",
    caption: "L2 norm of all the parameters at each iteration (minibatch update).",
    statements: [
      "Weight decay pushes the weights toward 0.",
      "If |1 − αλ/m| < 1, the norm of the weights converges to zero as the number of epochs goes to infinity: each update multiplies the previous weights by a number below 1 in absolute value.",
    ],
  },
  fig3: {
    title: "Figure 3. Dropout at inference",
    caption:
      "Accuracy of the MLP trained with dropout (p = 0.5) and evaluated with three schemes: (i) no masks, weights × 0.5; (ii) N masks, average of the pre-softmax outputs; (iii) N masks, average of the softmax predictions.",
    statements: [
      "Scaling the weights by 0.5 equals the geometric average over all masks; (ii) and (iii) take arithmetic averages, so they only approximate it.",
      "The three schemes converge to the same value as N increases.",
    ],
  },
  fig4: {
    title: "Figure 4. CNN: dropout vs batch normalization",
    caption: "Test error of two convolutional networks with the same body: one trained with dropout (no batch norm), the other with batch normalization (no dropout).",
    statements: [
      "Batch normalization causes the model to learn faster (it stabilizes the distributions of the activations and their gradients).",
      "On a dataset as big as MNIST, regularization matters less than optimization: overfitting is unlikely.",
    ],
  },
  fig5: {
    title: "Figure 5. Dogs vs Cats: grid search and the best model",
    caption:
      "Grid search over batch sizes 4, 8, 16, 32, 64 × three VGG-style architectures (Adam defaults, batch norm, 25 epochs, best validation epoch = early stopping); training and validation accuracy of the best model.",
    statements: [
      "Parameters: shallow (16-32-64) 5,274,882; shallow and fat (32-64-128) 9,539,074; deep (32-64-128-64-32) 1,373,986.",
      "Best model: batch size 16 and the big architecture.",
      "The model clearly overfits around epoch 10. Largest validation accuracy at epoch 17 (85.6 %); test accuracy there 84.5 %; generalization gap 9.15 %.",
    ],
    best: { batch_size: 16, blocks: "shallow-fat", valid: 0.856, epoch: 17, test: 0.845, gap: 0.0915, overfit_epoch: 10 },
  },
  fig6: {
    title: "Figure 6. Filters of the best model",
    caption: "Example filter from the deep layers of the model: first-layer kernels as RGB tiles, deeper filters by activation maximization.",
    statements: ["An example filter from the deep layers of the convolutional network (a picture, no numbers)."],
  },
  fig7: {
    title: "Figure 7. Misclassified test images",
    caption: "Examples of misclassified images, with the predicted label and its confidence.",
    statements: [
      "36 misclassified images are analysed: 2/36 mostly feature a person, 10/36 show a cropped animal, 2/36 are too low-resolution to tell.",
      "Cropping augmentation, a larger model and more epochs would likely reach at least 90 % accuracy.",
    ],
    shown: 36,
  },
};

export const FIG_IDS = ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7"];
