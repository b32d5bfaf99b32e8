//! A minimal complex number for the decision code (f32, no dependencies).
use std::ops::{Add, Mul};

/// A complex number with f32 parts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct C32 {
    pub re: f32,
    pub im: f32,
}

impl C32 {
    pub fn new(re: f32, im: f32) -> Self {
        Self { re, im }
    }
    pub fn conj(self) -> Self {
        Self {
            re: self.re,
            im: -self.im,
        }
    }
    pub fn norm_sqr(self) -> f32 {
        self.re * self.re + self.im * self.im
    }
}

impl Add for C32 {
    type Output = C32;
    fn add(self, o: C32) -> C32 {
        C32::new(self.re + o.re, self.im + o.im)
    }
}

impl Mul for C32 {
    type Output = C32;
    fn mul(self, o: C32) -> C32 {
        C32::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}
