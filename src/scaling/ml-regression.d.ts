// ml-regression ships no type declarations; only what load.ts uses is declared here.
declare module 'ml-regression' {
  export class SimpleLinearRegression {
    constructor(x: number[], y: number[]);
    readonly slope: number;
    readonly intercept: number;
    predict(x: number): number;
  }
}
