/**
 * What a denial lists: one problem a line, naming the annotation (or the label) and what to
 * set, and quoting the pod's own text so that no value of the pod's makes a huge or
 * misleading answer.
 */
import { visibleText } from '../visible-text';

/** One problem with what a pod asks for: the annotation (or the label) and what to set. */
export interface AnnotationProblem {
  readonly annotation: string;
  readonly problem: string;
}

/** How much of a value a message quotes: a huge annotation makes no huge answer. */
const SHOWN_LIMIT = 64;

/** Text of the pod's as a message shows it: cut short, what a terminal would act on as `?`. */
export const visible = (value: string): string => visibleText(value, SHOWN_LIMIT);

/** A value of the pod's as a message quotes it. */
export function shown(value: string): string {
  return JSON.stringify(visible(value));
}
